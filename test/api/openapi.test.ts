/**
 * /openapi.json describes the app as it is: every route the app serves is documented and
 * every documented operation is served; the document is well-formed OpenAPI 3.1; who may
 * call each operation is what the app enforces; the documented request schemas accept and
 * refuse what the routes accept and refuse; and real answers match the documented ones.
 * /docs renders it with Swagger UI under the app's Content-Security-Policy.
 */
import assert from 'node:assert/strict';
import request from 'supertest';
import type { Response } from 'supertest';
import { z } from 'zod';
import { statusOfCode } from '../../src/http/problem.ts';
import { parsePositiveYuan, parseYuan } from '../../src/money/fen.ts';
import { parseYieldPer10k } from '../../src/money/yield.ts';
import { runReconciliation } from '../../src/reconciliation/job.ts';
import { assertProblem, idempotencyKey, LOGIN_PASSWORD, newHolder, PAYMENT_PASSWORD, testApp, topUp, type Holder, type TestApp } from '../support/api.ts';
import { launchChromium, pageTrouble, serveOnLoopback } from '../support/browser.ts';
import { uniqueId } from '../support/database.ts';
import { accrueAt, addTestFund } from '../support/income.ts';
import { useOwnReserve } from '../support/reserve.ts';

type Json = Record<string, unknown>;
interface OpenApi {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, Operation>>;
  webhooks: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Json>; parameters: Record<string, Parameter>; securitySchemes: Record<string, Json> };
}
interface Operation {
  operationId: string;
  summary: string;
  tags: string[];
  security: Record<string, string[]>[];
  parameters?: (Parameter | { $ref: string })[];
  requestBody?: { content: Record<string, { schema: Json }> };
  responses: Record<string, { description: string; content?: Record<string, { schema?: Json }> }>;
}
interface Parameter {
  name: string;
  in: string;
  required?: boolean;
  schema: Json;
}

/** Who sends a request: its bearer header. */
type Caller = Pick<Holder, 'auth'>;

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

// ---- the app's routes, read from Express 5's router stack ----

interface Layer {
  route?: { path: unknown; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
  rawPath?: unknown;
}

/** "GET /v1/me/operations/{operationId}" for every method and path the app routes, nested routers included. */
function servedOperations(stack: Layer[], prefix = ''): string[] {
  return stack.flatMap((layer) => {
    if (layer.route) {
      const path = `${prefix}${String(layer.route.path)}`.replace(/:(\w+)/g, '{$1}');
      return Object.keys(layer.route.methods)
        .filter((method) => method !== '_all')
        .map((method) => `${method.toUpperCase()} ${path}`);
    }
    if (!layer.handle?.stack) return [];
    const mountedAt = typeof layer.rawPath === 'string' && layer.rawPath !== '/' ? layer.rawPath : '';
    return servedOperations(layer.handle.stack, prefix + mountedAt);
  });
}

function documentedOperations(document: OpenApi): string[] {
  return Object.entries(document.paths).flatMap(([path, item]) =>
    Object.keys(item)
      .filter((method) => HTTP_METHODS.includes(method))
      .map((method) => `${method.toUpperCase()} ${path}`),
  );
}

const listed = (lines: string[]) => lines.map((line) => `\n  ${line}`).join('');

// ---- reading the document ----

function resolvePointer(document: unknown, ref: string): unknown {
  assert.ok(ref.startsWith('#/'), `only local $refs: ${ref}`);
  return ref
    .slice(2)
    .split('/')
    .map((token) => token.replaceAll('~1', '/').replaceAll('~0', '~'))
    .reduce<unknown>((node, token) => (node !== null && typeof node === 'object' ? (node as Json)[token] : undefined), document);
}

/** Every value under `key` anywhere in the tree, with where it is. */
function collect(node: unknown, key: string, at = '#'): { at: string; value: unknown }[] {
  if (node === null || typeof node !== 'object') return [];
  return Object.entries(node).flatMap(([name, inner]) => [
    ...(name === key ? [{ at: `${at}/${name}`, value: inner }] : []),
    ...collect(inner, key, `${at}/${name}`),
  ]);
}

const SCHEMA_ANNOTATIONS = new Set(['description', 'examples', 'default', 'title', 'deprecated', 'readOnly', 'writeOnly']);

/** Schemas that constrain nothing (`{}`, or only a description): what a custom type becomes when it lacks metadata. */
function emptySchemas(node: unknown, at: string): string[] {
  if (node === null || typeof node !== 'object') return [];
  if (Array.isArray(node)) return node.flatMap((item, index) => emptySchemas(item, `${at}/${index}`));
  const schema = node as Json;
  const empty = Object.keys(schema).every((key) => SCHEMA_ANNOTATIONS.has(key)) ? [at] : [];
  const children = ['items', 'not', 'additionalProperties']
    .map((key): [string, unknown] => [key, schema[key]])
    .concat(['anyOf', 'oneOf', 'allOf', 'prefixItems'].flatMap((key) => ((schema[key] as unknown[]) ?? []).map((item, index): [string, unknown] => [`${key}/${index}`, item])))
    .concat(Object.entries((schema.properties as Json) ?? {}).map(([name, property]): [string, unknown] => [`properties/${name}`, property]))
    .filter(([, child]) => child !== undefined && typeof child === 'object');
  return [...empty, ...children.flatMap(([key, child]) => emptySchemas(child, `${at}/${key}`))];
}

/** A documented schema as a validator: JSON Schema 2020-12 read back by zod, components as $defs. */
function validatorOf(document: OpenApi, schema: Json): z.ZodType {
  const local = (value: unknown) => JSON.parse(JSON.stringify(value).replaceAll('#/components/schemas/', '#/$defs/'));
  return z.fromJSONSchema({ ...local(schema), $defs: local(document.components.schemas) });
}

/** The documented operation that serves a concrete path: `/v1/me/income/2024-05-31` -> `/v1/me/income/{date}`. */
function operationAt(document: OpenApi, method: string, path: string): { template: string; operation: Operation } {
  const pathOnly = path.split('?')[0]!;
  const templates = Object.keys(document.paths).filter((template) => new RegExp(`^${template.replace(/\{\w+\}/g, '[^/]+')}$`).test(pathOnly));
  // A literal segment wins over a parameter: /v1/ops/reconciliation/latest is not /v1/ops/reconciliation/{x}.
  const template = templates.sort((a, b) => a.split('{').length - b.split('{').length)[0];
  const operation = template ? document.paths[template]?.[method] : undefined;
  assert.ok(template && operation, `${method.toUpperCase()} ${pathOnly} is not documented`);
  return { template, operation };
}

function bodyValidator(document: OpenApi, method: string, path: string): z.ZodType {
  const schema = operationAt(document, method, path).operation.requestBody?.content['application/json']?.schema;
  assert.ok(schema, `${method.toUpperCase()} ${path} documents no JSON body`);
  return validatorOf(document, schema);
}

/** The answer's status is documented for the operation, with its media type, and the body fits the schema. */
function assertDocumented(document: OpenApi, method: string, path: string, response: Response): void {
  const { template, operation } = operationAt(document, method, path);
  const where = `${method.toUpperCase()} ${template} answered ${response.status}`;
  const documented = operation.responses[String(response.status)];
  assert.ok(documented, `${where}, which is not documented (documented: ${Object.keys(operation.responses).join(', ')})`);
  const content = Object.entries(documented.content ?? {});
  if (content.length === 0) {
    assert.equal(response.text, '', `${where} with a body the document does not describe`);
    return;
  }
  const mediaTypeOf = (type: string) => type.split(';')[0]!.trim();
  const received = mediaTypeOf(String(response.headers['content-type']));
  const media = content.find(([type]) => mediaTypeOf(type) === received)?.[1];
  assert.ok(media, `${where} as ${received}, documented as ${content.map(([type]) => type).join(', ')}`);
  if (!media.schema) return;
  const parsed = validatorOf(document, media.schema).safeParse(response.body);
  assert.ok(parsed.success, `${where}: the body does not match the documented schema: ${JSON.stringify(parsed.error?.issues)}\n${JSON.stringify(response.body)}`);
}

/**
 * A problem answer names its codes in an enum, each with STATUS_OF_CODE's status and an
 * example that fits the response's schema; its description names every code.
 */
function assertProblemResponse(document: OpenApi, where: string, status: number, response: Operation['responses'][string]): void {
  const media = response.content?.['application/problem+json'] as { schema: Json; examples?: Record<string, { value: Json }> } | undefined;
  assert.deepEqual(Object.keys(response.content ?? {}), ['application/problem+json'], where);
  const [problem, narrowed] = (media!.schema as { allOf: [Json, { type: string; properties: { status: Json; code: { enum: string[] } } }] }).allOf;
  assert.deepEqual(problem, { $ref: '#/components/schemas/Problem' }, where);
  assert.equal(narrowed.type, 'object', where);
  assert.deepEqual(narrowed.properties.status, { const: status }, where);
  const codes = narrowed.properties.code.enum;
  assert.deepEqual(codes.filter((code) => statusOfCode(code) !== status), [], `${where}: codes of another status`);
  assert.deepEqual(Object.keys(media!.examples ?? {}), codes, `${where}: an example of each code`);
  const validator = validatorOf(document, media!.schema);
  for (const [code, { value }] of Object.entries(media!.examples!)) {
    assert.ok(validator.safeParse(value).success && value.code === code, `${where}: the example of ${code} fits: ${JSON.stringify(value)}`);
    assert.ok(!validator.safeParse({ ...value, code: 'not_listed_here' }).success, `${where}: the schema refuses a code it does not list`);
  }
  assert.ok(codes.every((code) => response.description.includes(`\`${code}\``)), `${where}: the description names every code`);
}

describe('OpenAPI document', function () {
  this.timeout(120_000);
  let t: TestApp;
  let document: OpenApi;
  let holder: Holder;
  let ops: Holder;

  before(async () => {
    t = testApp();
    const served = await request(t.app).get('/openapi.json').expect(200).expect('Content-Type', /^application\/json/);
    document = served.body;
    [holder, ops] = await Promise.all([newHolder(t.app), newHolder(t.app, { ops: true })]);
  });

  it('documents every route the app serves, and only those', () => {
    const served = new Set(servedOperations((t.app as unknown as { router: { stack: Layer[] } }).router.stack));
    const documented = new Set(documentedOperations(document));
    assert.ok(served.size >= 35, `the walk found ${served.size} routes`);
    const undocumented = [...served].filter((operation) => !documented.has(operation)).sort();
    const stale = [...documented].filter((operation) => !served.has(operation)).sort();
    assert.deepEqual(undocumented, [], `routes the app serves with no documentation (register them through apiRoutes, src/http/openapi.ts):${listed(undocumented)}`);
    assert.deepEqual(stale, [], `documented operations the app does not serve:${listed(stale)}`);
  });

  it('is OpenAPI 3.1: every $ref resolves, every path parameter is declared, every operation answers success and problems', () => {
    assert.match(document.openapi, /^3\.1\.\d+$/);
    assert.ok(document.info.title.length > 0 && document.info.version.length > 0);
    const unresolved = collect(document, '$ref').filter(({ value }) => typeof value !== 'string' || resolvePointer(document, value) === undefined);
    assert.deepEqual(unresolved, [], 'every $ref resolves');
    const operationIds = documentedOperations(document).map((name) => {
      const [method, path] = name.split(' ') as [string, string];
      return document.paths[path]![method.toLowerCase()]!.operationId;
    });
    assert.equal(new Set(operationIds).size, operationIds.length, 'operationIds are unique');
    for (const [path, item] of Object.entries(document.paths)) {
      const inTemplate = [...path.matchAll(/\{(\w+)\}/g)].map((match) => match[1]).sort();
      for (const [method, operation] of Object.entries(item)) {
        const where = `${method.toUpperCase()} ${path}`;
        const parameters = (operation.parameters ?? []).map((parameter) => ('$ref' in parameter ? (resolvePointer(document, parameter.$ref) as Parameter) : parameter));
        const inPath = parameters.filter((parameter) => parameter.in === 'path');
        assert.deepEqual(inPath.map((parameter) => parameter.name).sort(), inTemplate, `${where}: path parameters declared`);
        assert.ok(inPath.every((parameter) => parameter.required === true), `${where}: path parameters are required`);
        assert.ok(operation.summary.length > 0 && operation.tags.length === 1, `${where}: a summary and its module's tag`);
        const statuses = Object.keys(operation.responses);
        assert.ok(statuses.some((status) => status.startsWith('2')), `${where}: a success answer`);
        for (const status of statuses) assert.ok(operation.responses[status]!.description.length > 0, `${where} ${status}: a description`);
        for (const status of statuses.filter((code) => Number(code) >= 400)) assertProblemResponse(document, `${where} ${status}`, Number(status), operation.responses[status]!);
        for (const requirement of operation.security) {
          for (const scheme of Object.keys(requirement)) assert.ok(document.components.securitySchemes[scheme], `${where}: security scheme ${scheme}`);
        }
      }
    }
  });

  it('a route without input refuses a body that is not JSON, as documented', async () => {
    const response = await request(t.app).get('/healthz').set('Content-Type', 'application/json').send('{"not json');
    assertProblem(response, 400, 'invalid_request');
    assertDocumented(document, 'get', '/healthz', response);
  });

  it('documents the money and date strings as strings with a pattern and an example, and no schema as {}', () => {
    const schemaSites = [
      ...Object.entries(document.components.schemas).map(([name, schema]) => ({ at: `#/components/schemas/${name}`, value: schema })),
      ...collect(document.paths, 'schema', '#/paths'),
    ];
    const empty = schemaSites.flatMap(({ at, value }) => emptySchemas(value, at));
    assert.deepEqual(empty, [], `schemas that say nothing about their value:${listed(empty)}`);
    for (const name of ['AmountYuan', 'YuanOrZero', 'YieldPer10k', 'BusinessDate', 'Yuan']) {
      const schema = document.components.schemas[name] as { type?: string; pattern?: string; examples?: unknown[]; description?: string };
      assert.equal(schema?.type, 'string', `${name} is a string`);
      assert.ok(schema.pattern && schema.description && (schema.examples?.length ?? 0) > 0, `${name}: a pattern, a description and an example`);
      for (const example of schema.examples!) assert.match(String(example), new RegExp(schema.pattern), `${name}: its example fits its pattern`);
    }
    assert.equal(document.components.schemas.BusinessDate?.format, 'date');
    const topUpBody = document.paths['/v1/me/top-ups']!.post!.requestBody!.content['application/json']!.schema as { properties: Json };
    assert.deepEqual(topUpBody.properties.amount, { $ref: '#/components/schemas/AmountYuan' }, 'the request is documented as its input: the yuan string, not the fen it becomes');
    const problem = document.components.schemas.Problem as { properties: Json; required: string[] };
    assert.deepEqual([...problem.required].sort(), ['code', 'detail', 'status', 'title', 'type']);
  });

  it('the documented patterns accept exactly what the money parsers accept', () => {
    const accepts = (parse: (text: string) => unknown, text: string) => {
      try {
        parse(text);
        return true;
      } catch {
        return false;
      }
    };
    const samples = ['1', '0', '0.00', '0.01', '0.1', '12.5', '1234.56', '999999999999999.99', '1000000000000000', '01.00', '1.001', '-1.00', '+1', '1e3', ' 1.00', '1.00\n', '1.', '.5', '1,00', '', 'Infinity'];
    const yields = ['0', '0.4123', '-0.05', '-0', '9999.9999', '10000', '0.41234', '+0.4', '00.4', '-', '1e-4'];
    for (const [name, parse, texts] of [
      ['AmountYuan', parsePositiveYuan, samples],
      ['YuanOrZero', parseYuan, samples],
      ['YieldPer10k', parseYieldPer10k, [...samples, ...yields]],
    ] as const) {
      const pattern = new RegExp(document.components.schemas[name]!.pattern as string);
      const disagreements = texts.filter((text) => pattern.test(text) !== accepts(parse, text));
      assert.deepEqual(disagreements, [], `${name}: the pattern and the parser disagree`);
      assert.ok(texts.some((text) => pattern.test(text)) && texts.some((text) => !pattern.test(text)), `${name}: samples on both sides`);
    }
  });

  it('states who may call each operation, as the app enforces it', async () => {
    for (const name of documentedOperations(document)) {
      const [method, template] = name.split(' ') as [string, string];
      const operation = document.paths[template]![method.toLowerCase()]!;
      const path = template.replace(/\{date\}/g, '2030-03-06').replace(/\{\w+\}/g, 'x');
      const call = () => request(t.app)[method.toLowerCase() as 'get'](path);
      const roles = operation.security.flatMap((requirement) => requirement.bearerAuth ?? []);
      if (operation.security.length === 0) {
        const anonymous = await call();
        assert.notEqual(anonymous.status, 401, `${name} is documented public but answers 401`);
        continue;
      }
      assertProblem(await call(), 401, 'unauthenticated');
      // Signing out ends the caller's sessions: a holder of its own, so the shared one's stay.
      const caller = template.startsWith('/v1/me/session') ? await newHolder(t.app) : holder;
      const asHolder = await call().set(caller.auth);
      if (roles.includes('ops')) assertProblem(asHolder, 403, 'forbidden');
      else assert.notEqual(asHolder.status, 403, `${name} is documented for any user but refuses one`);
      assert.equal(roles.includes('ops'), template.startsWith('/v1/ops/'), `${name}: the ops role exactly under /v1/ops`);
    }
  });

  it('a body the documented schema accepts is accepted by the route, and one it refuses gets 400 problem+json', async () => {
    const fund = addTestFund(t);
    const cases: { method: 'post' | 'put'; path: string; auth: Holder; bodies: unknown[]; keyed?: boolean }[] = [
      {
        method: 'post',
        path: '/v1/me/top-ups',
        auth: holder,
        keyed: true,
        bodies: [
          { amount: '1.00', bankCardId: holder.bankCardId },
          { amount: '0.01', bankCardId: holder.bankCardId },
          { amount: '12', bankCardId: holder.bankCardId },
          { amount: '0.00', bankCardId: holder.bankCardId },
          { amount: 1, bankCardId: holder.bankCardId },
          { amount: '1.001', bankCardId: holder.bankCardId },
          { bankCardId: holder.bankCardId },
          { amount: '1.00', bankCardId: holder.bankCardId, currency: 'CNY' },
          { amount: '1.00', bankCardId: '' },
        ],
      },
      {
        method: 'post',
        path: '/v1/me/transfers-in',
        auth: holder,
        keyed: true,
        bodies: [
          { amount: '1.00', channel: 'wallet', fundCode: 'YEB001' },
          { amount: '1.00', channel: 'bank_card', bankCardId: holder.bankCardId, fundCode: 'YEB001' },
          { amount: '1.00', channel: 'bank_card', fundCode: 'YEB001' },
          { amount: '1.00', channel: 'wallet', bankCardId: holder.bankCardId, fundCode: 'YEB001' },
          { amount: '1.00', channel: 'alipay', fundCode: 'YEB001' },
          { amount: '1.00', fundCode: 'YEB001' },
        ],
      },
      {
        method: 'put',
        path: '/v1/me/auto-sweep',
        auth: holder,
        bodies: [
          { enabled: true, keep: '0' },
          { enabled: false, keep: '12.50', onArrival: true },
          { enabled: 'yes', keep: '1' },
          { enabled: true },
          { enabled: true, keep: '-1.00' },
          { enabled: true, keep: '1', onArrival: 1 },
        ],
      },
      {
        method: 'put',
        path: `/v1/ops/funds/${fund}/yields/2024-05-29`,
        auth: ops,
        bodies: [{ yieldPer10k: '0.4123' }, { yieldPer10k: '-0.05' }, { yieldPer10k: '0' }, { yieldPer10k: '0.41234' }, { yieldPer10k: 0.4 }, { yieldPer10k: '+0.4' }, {}],
      },
    ];
    await topUp(t.app, holder, '100.00');
    for (const { method, path, auth, bodies, keyed } of cases) {
      const documented = bodyValidator(document, method, path);
      const verdicts = bodies.map((body) => documented.safeParse(body).success);
      assert.ok(verdicts.filter(Boolean).length >= 2 && verdicts.filter((valid) => !valid).length >= 2, `${path}: bodies on both sides of the schema`);
      for (const [index, body] of bodies.entries()) {
        let call = request(t.app)[method](path).set(auth.auth);
        if (keyed) call = call.set('Idempotency-Key', idempotencyKey());
        const response = await call.send(body as object);
        if (verdicts[index]) assert.ok(response.status >= 200 && response.status < 300, `${path} ${JSON.stringify(body)}: documented valid, answered ${response.status} ${JSON.stringify(response.body)}`);
        else assertProblem(response, 400, 'invalid_request');
      }
    }
  });

  it('the documented Idempotency-Key pattern is the one the money routes apply', async () => {
    const pattern = new RegExp((document.components.parameters.IdempotencyKey!.schema as { pattern: string }).pattern);
    const keys = [uniqueId('k'), `${uniqueId('k')}:1.2_3-4`, `${uniqueId('k')}${'a'.repeat(100)}`, 'short', 'a'.repeat(129), 'has space 123', 'slash/12345678'];
    assert.ok(keys.some((key) => pattern.test(key)) && keys.some((key) => !pattern.test(key)));
    for (const key of keys) {
      const response = await request(t.app)
        .post('/v1/me/top-ups')
        .set(holder.auth)
        .set('Idempotency-Key', key)
        .send({ amount: '0.01', bankCardId: holder.bankCardId });
      if (pattern.test(key)) assert.equal(response.status, 201, `${key}: ${JSON.stringify(response.body)}`);
      else assertProblem(response, 400, 'invalid_idempotency_key');
    }
  });

  it('answers as documented: a tour of every operation, successes and problems', async () => {
    const fund = addTestFund(t);
    useOwnReserve(t);
    const loginId = uniqueId('tour');
    const visited = new Set<string>();
    let tourist: Caller | undefined;
    const step = async (
      method: 'get' | 'post' | 'put' | 'delete',
      path: string,
      status: number,
      options: { as?: Caller | null; body?: object; keyed?: boolean } = {},
    ): Promise<Response> => {
      let call = request(t.app)[method](path);
      const as = options.as === undefined ? tourist : options.as;
      if (as) call = call.set(as.auth);
      if (options.keyed) call = call.set('Idempotency-Key', idempotencyKey());
      const response = options.body ? await call.send(options.body) : await call;
      assert.equal(response.status, status, `${method.toUpperCase()} ${path}: ${JSON.stringify(response.body)}`);
      assertDocumented(document, method, path, response);
      visited.add(`${method.toUpperCase()} ${operationAt(document, method, path).template}`);
      return response;
    };

    await step('get', '/v1/funds', 200, { as: null });
    await step('get', '/openapi.json', 200, { as: null });
    await step('get', '/docs', 200, { as: null });
    await step('post', '/v1/users', 201, { as: null, body: { loginId, loginPassword: LOGIN_PASSWORD } });
    const session = await step('post', '/v1/sessions', 201, { as: null, body: { loginId, loginPassword: LOGIN_PASSWORD } });
    tourist = { auth: { Authorization: `Bearer ${session.body.token}` } };
    await step('put', '/v1/me/payment-password', 204, { body: { loginPassword: LOGIN_PASSWORD, paymentPassword: PAYMENT_PASSWORD } });
    const card = await step('post', '/v1/me/bank-cards', 201, { body: { cardNumber: '6222020200112233' } });
    const bankCardId = card.body.bankCard.bankCardId as string;
    await step('get', '/v1/me/bank-cards', 200);
    await step('post', '/v1/me/top-ups', 201, { keyed: true, body: { amount: '2000.00', bankCardId } });
    await step('post', '/v1/me/transfers-in', 201, { keyed: true, body: { amount: '1000.00', channel: 'wallet', fundCode: fund } });
    const page = await step('get', '/v1/me/operations?limit=1', 200);
    assert.notEqual(page.body.nextCursor, null, 'a second page');
    await step('get', `/v1/me/operations/${page.body.items[0].id}`, 200);
    await step('put', '/v1/me/auto-sweep', 200, { body: { enabled: false, keep: '100.00' } });
    await step('get', `/v1/accounts/${session.body.userId}`, 200, { as: ops });

    t.clock.set('2024-05-31T20:00:00+08:00');
    await step('put', `/v1/ops/funds/${fund}/yields/2024-05-31`, 200, { as: ops, body: { yieldPer10k: '0.4123' } });
    await accrueAt(t, fund, '2024-05-31');
    await step('get', '/v1/me/account', 200);
    await step('get', `/v1/funds/${fund}/days?from=2024-05-30&to=2024-05-31`, 200, { as: null });
    await step('get', `/v1/ops/funds/${fund}/accrual`, 200, { as: ops });
    await step('post', `/v1/ops/funds/${fund}/yields/import`, 200, { as: ops, body: { lines: ['date,yieldPer10k', '2024-05-31,0.4123'], dryRun: true } });
    await step('get', `/v1/ops/funds/${fund}/yields/pending`, 200, { as: ops });
    await step('post', `/v1/ops/funds/${fund}/yields/2024-05-31/confirm`, 409, { as: ops, body: { yieldPer10k: '0.4123' } });
    await step('put', `/v1/ops/funds/${fund}/start`, 409, { as: ops, body: { startDate: '2024-05-01' } });
    await step('get', '/v1/ops/audit?limit=1', 200, { as: ops });
    await step('get', '/v1/me/income?from=2024-05-30&to=2024-05-31', 200);
    const explained = await step('get', '/v1/me/income/2024-05-31', 200);
    assert.equal(explained.body.status, 'accrued');

    await step('post', '/v1/ops/reserve/adjustments', 201, { as: ops, keyed: true, body: { amount: '100000.00', direction: 'increase' } });
    await step('get', '/v1/ops/reserve', 200, { as: ops });
    await step('get', '/v1/ops/reserve/plan?days=7&scenario=run:5%25:4h', 200, { as: ops });
    await step('get', '/v1/ops/reserve/plan?scenario=festival:11-11:x2', 422, { as: ops });
    await step('post', '/v1/me/instant-redemptions', 201, { keyed: true, body: { amount: '10.00', paymentPassword: PAYMENT_PASSWORD } });
    const merchant = await step('post', '/v1/ops/merchants', 201, { as: ops, body: { name: 'Tour tea house' } });
    await step('get', `/v1/ops/merchants/${merchant.body.id}`, 200, { as: ops });
    await step('post', '/v1/me/payments', 201, { keyed: true, body: { merchantId: merchant.body.id, amount: '5.00', paymentPassword: PAYMENT_PASSWORD } });
    await step('post', '/v1/me/redemptions', 201, { keyed: true, body: { amount: '10.00', channel: 'wallet', paymentPassword: PAYMENT_PASSWORD } });
    await step('post', '/v1/me/withdrawals', 201, { keyed: true, body: { amount: '1.00', bankCardId, paymentPassword: PAYMENT_PASSWORD } });
    await step('get', '/v1/ops/reconciliation', 200, { as: ops });
    const ran = await runReconciliation(t.ctx);
    const latest = await step('get', '/v1/ops/reconciliation/latest', 200, { as: ops });
    assert.deepEqual([latest.body.report.id, latest.body.report.at], [ran._id, ran.at.toISOString()]);
    await step('get', '/v1/ops/calendar/holidays?from=2024-01-01&to=2024-12-31', 200, { as: ops });
    await step('get', '/v1/ops/calendar/coverage', 200, { as: ops });
    await step('put', '/v1/ops/calendar/holidays/2030-03-06', 200, { as: ops });
    await step('delete', '/v1/ops/calendar/holidays/2030-03-06', 200, { as: ops });

    // Problems, each with the members its code adds.
    const broke = await step('post', '/v1/me/withdrawals', 409, { keyed: true, body: { amount: '999999.00', bankCardId, paymentPassword: PAYMENT_PASSWORD } });
    assert.equal(typeof broke.body.operationId, 'string');
    const invalid = await step('post', '/v1/me/top-ups', 400, { keyed: true, body: { amount: '1.001', bankCardId } });
    assert.equal(invalid.body.issues[0].path, 'amount');
    await step('get', '/v1/me/account', 401, { as: null });
    await step('get', '/v1/ops/reserve', 403);
    await step('get', `/v1/accounts/${holder.userId}`, 404);
    await step('get', '/v1/ops/merchants/no-such-merchant', 422, { as: ops });
    const wrong = await step('post', '/v1/me/instant-redemptions', 403, { keyed: true, body: { amount: '1.00', paymentPassword: '000000' } });
    assert.equal(wrong.body.attemptsLeft, 2);

    // Last, as they end the tourist's sessions.
    await step('delete', '/v1/me/session', 204);
    const again = await step('post', '/v1/sessions', 201, { as: null, body: { loginId, loginPassword: LOGIN_PASSWORD } });
    tourist = { auth: { Authorization: `Bearer ${again.body.token}` } };
    await step('delete', '/v1/me/sessions', 204);
    await step('post', '/v1/me/instant-redemptions', 401, { keyed: true, body: { amount: '1.00', paymentPassword: PAYMENT_PASSWORD } });

    const mine = documentedOperations(document).filter((name) => !visited.has(name) && TOURED_TAGS.has(tagOf(document, name)));
    assert.deepEqual(mine, [], `operations the tour missed:${listed(mine)}`);
  });

  it('/docs serves Swagger UI and our initializer as same-origin script files', async () => {
    const page = await request(t.app).get('/docs').expect(200).expect('Content-Type', /^text\/html/);
    const scripts = [...page.text.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    assert.deepEqual(
      scripts.map(([, attributes]) => /src="([^"]+)"/.exec(attributes!)?.[1]),
      ['/docs/swagger-ui/swagger-ui-bundle.js', '/docs/assets/docs.js'],
    );
    assert.ok(scripts.every(([, , inline]) => inline!.trim() === ''), 'no inline script');
    assert.match(page.text, /<link rel="stylesheet" href="\/docs\/swagger-ui\/swagger-ui.css">/);
    const bundle = await request(t.app).get('/docs/swagger-ui/swagger-ui-bundle.js').expect(200).expect('Content-Type', /javascript/);
    assert.ok(bundle.text.includes('SwaggerUIBundle'));
    await request(t.app).get('/docs/swagger-ui/swagger-ui.css').expect(200).expect('Content-Type', /^text\/css/);
    const initializer = await request(t.app).get('/docs/assets/docs.js').expect(200).expect('Content-Type', /javascript/);
    assert.match(initializer.text, /url: '\/openapi\.json'/);
    // Only what the page loads: the package's own index.html and initializer would show the petstore.
    assertProblem(await request(t.app).get('/docs/swagger-ui/index.html'), 404, 'route_not_found');
    assertProblem(await request(t.app).get('/docs/swagger-ui/swagger-initializer.js'), 404, 'route_not_found');
  });

  it('/docs renders every operation in headless Chromium, under the app\'s Content-Security-Policy', async () => {
    const served = await serveOnLoopback(t.app);
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      const trouble = pageTrouble(page);
      const response = await page.goto(`${served.baseUrl}/docs`);
      assert.match(String(response?.headers()['content-security-policy']), /script-src 'self'/);
      await page.waitForSelector('.opblock', { timeout: 30_000 });
      // Swagger UI's red box of warnings about the document (a jsonSchemaDialect it does not support, ...).
      assert.deepEqual(await page.$$eval('.errors-wrapper', (boxes) => boxes.map((box) => box.textContent)), [], 'no warning box');
      const shown = await page.$$eval('.opblock', (blocks) => blocks.length);
      assert.equal(shown, documentedOperations(document).length + Object.keys(document.webhooks).length, 'one block per operation and per webhook');
      const title = await page.textContent('.info .title');
      assert.ok(title?.startsWith(document.info.title) && title.includes(document.info.version) && title.includes('OAS 3.1'), `the title: ${title}`);
      assert.deepEqual(trouble, []);
    } finally {
      await browser.close();
      await served.close();
    }
  });
});

/** The modules whose every operation the tour visits (others' modules have their own tests). */
const TOURED_TAGS = new Set([
  'Auth',
  'Accounts',
  'Bank cards and wallet',
  'Fund transfers',
  'Funds',
  'Income',
  'Auto-sweep',
  'Merchants',
  'Reserve',
  'Reconciliation',
  'Calendar',
  'Audit',
  'Documentation',
]);

function tagOf(document: OpenApi, name: string): string {
  const [method, path] = name.split(' ') as [string, string];
  return document.paths[path]![method.toLowerCase()]!.tags[0]!;
}
