import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Application } from 'express';
import { z } from 'zod';
import { DomainError, FAILURE_DETAIL } from '../../errors.ts';
import { PROJECT_ROOT } from '../../projectRoot.ts';
import { accessOf, routeDocOf, type Access, type DocumentedHandler, type Method, type ProblemDocs, type RouteDoc, type TagDoc } from '../openapi.ts';
import { problemOf, STATUS_OF_CODE, type ProblemCode } from '../problem.ts';
import { BEIJING_TWIN_SUFFIX } from '../../calendar/beijingTime.ts';
import { problemSchema } from './schemas.ts';
import { EVENT_TYPES } from '../../events/catalogue.ts';
import { exampleEvent } from '../../events/examples.ts';
import { eventSchema } from '../../events/routes.ts';

/**
 * The OpenAPI 3.1 document of an app, built from the routes it actually serves: each one
 * registered through apiRoutes carries its RouteDoc, whose zod schemas become JSON Schema
 * 2020-12 (the dialect of OpenAPI 3.1). Schemas with a `.meta({ id })` become shared
 * components; the rest are inlined where they are used.
 */

type JsonObject = Record<string, unknown>;

interface ExpressLayer {
  route?: { path: unknown; methods: Record<string, boolean>; stack: ExpressLayer[] };
  handle?: { stack?: ExpressLayer[] };
  rawPath?: unknown;
}

interface ServedRoute {
  method: Method;
  path: string;
  documented: DocumentedHandler;
}

const cache = new WeakMap<Application, JsonObject>();

/** Built once per app, on first use: by then every route is registered. */
export function openApiDocument(app: Application): JsonObject {
  let document = cache.get(app);
  if (!document) {
    document = buildDocument(documentedRoutes(app));
    cache.set(app, document);
  }
  return document;
}

const PACKAGE_VERSION = (JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

function buildDocument(routes: ServedRoute[]): JsonObject {
  const schemas = new SchemaComponents();
  const paths: Record<string, Record<string, JsonObject>> = {};
  for (const route of routes) {
    const path = route.path.replace(/:(\w+)/g, '{$1}');
    paths[path] = { ...paths[path], [route.method]: operationOf(route, schemas) };
  }
  // No jsonSchemaDialect: the default, OpenAPI 3.1's base dialect, is JSON Schema 2020-12 as
  // our schemas are written, and Swagger UI 5 warns on any other value.
  return {
    openapi: '3.1.0',
    info: {
      title: 'moneyfund',
      version: PACKAGE_VERSION,
      description: [
        'A money-market-fund balance service (余额宝 style). Money is carried as yuan strings ("1234.56"), never numbers.',
        'Sign in with POST /v1/sessions and send `Authorization: Bearer <token>`; routes under /v1/ops need a user with the ops role.',
        'Every request that moves money needs an Idempotency-Key: a replay returns the first answer (`Idempotent-Replayed: true`) and moves nothing.',
        'Errors are application/problem+json (RFC 9457) with a stable `code`: each response lists the codes it can carry, with an example of each.',
        'Languages: send `Accept-Language` (q-values honoured) to choose English, the default, or Chinese (`zh`, `zh-CN`, `zh-Hans`, ...). It sets the language of a problem\'s `title` and `detail` (its `code` never changes) and of validation issues; answers under /v1, and every problem, carry `Content-Language` and `Vary: Accept-Language`. Amounts in JSON stay plain yuan strings in every language.',
      ].join('\n\n'),
      // package.json is private and names no licence.
      license: { name: 'Proprietary', identifier: 'LicenseRef-Proprietary' },
    },
    // Relative: the service that serves this document, on whatever host and port it runs.
    servers: [{ url: '/', description: 'This service' }],
    tags: tagsOf(routes),
    paths,
    webhooks: webhooksOf(schemas),
    components: {
      schemas: schemas.components,
      securitySchemes: {
        bearerAuth: {
          type: 'http',
          scheme: 'bearer',
          description: 'A session token from POST /v1/sessions. An operation that lists the role `ops` needs a user with the ops role.',
        },
        webhookSignature: WEBHOOK_SIGNATURE,
      },
      parameters: { IdempotencyKey: IDEMPOTENCY_KEY },
    },
  };
}

/**
 * What a webhook endpoint is sent (docs/webhooks.md): one POST per event, its body the event as
 * GET /v1/ops/events reads it, signed in the Moneyfund-Signature header.
 */
function webhooksOf(schemas: SchemaComponents): Record<string, JsonObject> {
  const eventBody = schemas.convertAnswer(eventSchema);
  return Object.fromEntries(
    EVENT_TYPES.map((type, index) => [
      type,
      {
        post: {
          operationId: `receive_${type.replace('.', '_')}`,
          summary: `${type}: sent to endpoints that asked for it (or for *)`,
          tags: ['Webhooks'],
          security: [{ webhookSignature: [] }],
          requestBody: { required: true, content: { 'application/json': { schema: eventBody, example: exampleEvent(type, index + 1) } } },
          responses: { '200': { description: 'Received: any 2xx within the timeout ends the retries; anything else is retried with back-off' } },
        },
      },
    ]),
  );
}

/** How a receiver knows a delivery is ours (src/webhooks/signature.ts). */
const WEBHOOK_SIGNATURE = {
  type: 'apiKey',
  in: 'header',
  name: 'Moneyfund-Signature',
  description: 'Webhook deliveries only: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" with the endpoint\'s secret>`. Verify it, and refuse a t more than 300 s old.',
};

/** Each module's tag once; two modules sharing a name must describe it alike. */
function tagsOf(routes: ServedRoute[]): TagDoc[] {
  const tags = new Map<string, TagDoc>();
  for (const { tag } of routes.map((route) => route.documented)) {
    const known = tags.get(tag.name);
    if (known && known.description !== tag.description) throw new Error(`two descriptions of the tag ${tag.name}`);
    tags.set(tag.name, tag);
  }
  return [...tags.values()];
}

const IDEMPOTENCY_KEY = {
  name: 'Idempotency-Key',
  in: 'header',
  required: true,
  description: 'Names this request so a retry is recognised: the same key with the same body replays the first answer; with another body it is a 422.',
  schema: { type: 'string', pattern: '^[A-Za-z0-9_.:-]{8,128}$', examples: ['topup-2024-06-03-0001'] },
};

/** Every route the app serves through apiRoutes, with its full path (routers mounted on a path included). */
function documentedRoutes(app: Application): ServedRoute[] {
  return walk((app as unknown as { router: { stack: ExpressLayer[] } }).router.stack, '');
}

function walk(stack: ExpressLayer[], prefix: string): ServedRoute[] {
  return stack.flatMap((layer) => {
    if (layer.route) return routeOf(layer.route, prefix);
    const nested = layer.handle?.stack;
    if (!nested) return [];
    return walk(nested, typeof layer.rawPath === 'string' && layer.rawPath !== '/' ? prefix + layer.rawPath : prefix);
  });
}

function routeOf(route: NonNullable<ExpressLayer['route']>, prefix: string): ServedRoute[] {
  const documented = route.stack.map((layer) => routeDocOf(layer.handle)).find((found) => found !== undefined);
  if (!documented || typeof route.path !== 'string') return [];
  const methods = Object.keys(route.methods).filter((method): method is Method => ['get', 'post', 'put', 'delete'].includes(method));
  return methods.map((method) => ({ method, path: prefix + route.path, documented }));
}

function operationOf(route: ServedRoute, schemas: SchemaComponents): JsonObject {
  const { tag, doc } = route.documented;
  const access = accessOf(route.path);
  const parameters = [
    ...parametersOf(doc.params, 'path', schemas),
    ...parametersOf(doc.query, 'query', schemas),
    ...(doc.idempotencyKey ? [{ $ref: '#/components/parameters/IdempotencyKey' }] : []),
  ];
  return {
    operationId: doc.operationId,
    summary: doc.summary,
    ...descriptionOf(doc, access),
    tags: [tag.name],
    security: access === 'public' ? [] : [{ bearerAuth: access === 'ops' ? ['ops'] : [] }],
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(doc.body ? { requestBody: { required: true, content: { 'application/json': { schema: schemas.convert(doc.body) } } } } : {}),
    responses: { ...successesOf(doc, schemas), ...problemsOf(doc, access, schemas) },
  };
}

function descriptionOf(doc: RouteDoc, access: Access): JsonObject {
  const lines = [access === 'ops' ? 'Needs the ops role.' : '', doc.description ?? ''].filter((line) => line !== '');
  return lines.length > 0 ? { description: lines.join('\n\n') } : {};
}

function parametersOf(schema: z.ZodObject | undefined, where: 'path' | 'query', schemas: SchemaComponents): JsonObject[] {
  if (!schema) return [];
  const object = schemas.convert(schema) as { properties?: Record<string, JsonObject>; required?: string[] };
  if (!object.properties) throw new Error(`${where} parameters must be a plain z.object (no id, no union)`);
  return Object.entries(object.properties).map(([name, property]) => ({
    name,
    in: where,
    required: where === 'path' || (object.required ?? []).includes(name),
    ...(typeof property.description === 'string' ? { description: property.description } : {}),
    schema: property,
  }));
}

const REPLAYED_HEADER = {
  'Idempotent-Replayed': { description: 'Present on a replay: this is the first answer to this Idempotency-Key', schema: { type: 'string', const: 'true' } },
};

function successesOf(doc: RouteDoc, schemas: SchemaComponents): Record<string, JsonObject> {
  return Object.fromEntries(
    Object.entries(doc.responses).map(([status, { description, body, contentType, alsoAs = [] }]) => {
      const media = body ? { schema: schemas.convertAnswer(body) } : {};
      const content = {
        ...(body || contentType ? { [contentType ?? 'application/json']: media } : {}),
        ...Object.fromEntries(alsoAs.map((type) => [type, {}])),
      };
      return [
        status,
        {
          description,
          ...(doc.idempotencyKey ? { headers: REPLAYED_HEADER } : {}),
          ...(Object.keys(content).length > 0 ? { content } : {}),
        },
      ];
    }),
  );
}

/** What every route of its kind can answer, besides the route's own problems. */
function commonProblems(doc: RouteDoc, access: Access): ProblemDocs[] {
  const hasInput = doc.params || doc.query || doc.body || doc.idempotencyKey;
  return [
    // express.json reads a body sent with any request, so even a route without input refuses one that is not JSON.
    { invalid_request: hasInput ? 'the input does not match this schema (`issues` lists each field)' : 'a request body was sent and is not valid JSON' },
    access === 'public' ? {} : { unauthenticated: 'no valid bearer token' },
    access === 'ops' ? { forbidden: 'the user lacks the ops role' } : {},
    doc.body ? { payload_too_large: 'the body is larger than the service reads', unsupported_media_type: 'send application/json in UTF-8' } : {},
    doc.idempotencyKey ? IDEMPOTENT_PROBLEMS : {},
  ];
}

const IDEMPOTENT_PROBLEMS: ProblemDocs = {
  idempotency_key_required: 'no Idempotency-Key header',
  invalid_idempotency_key: 'the Idempotency-Key does not match its pattern',
  request_in_progress: 'a request with this Idempotency-Key is still running; retry later',
  idempotency_key_reused: 'this Idempotency-Key came with another body',
  // Every request that moves money (the ones with an Idempotency-Key) carries an amount.
  amount_above_maximum: 'the amount is above the most one request may move',
  account_busy: 'too many movements of this account are still being finished; the service finishes this one, or send it again shortly with the same Idempotency-Key',
};

/** Each code a route answers, with every explanation given for it (several sets may explain one code). */
function codesOf(sets: ProblemDocs[]): Map<ProblemCode, string[]> {
  const codes = new Map<ProblemCode, string[]>();
  for (const set of sets) {
    for (const [code, when] of Object.entries(set) as [ProblemCode, string][]) codes.set(code, [...(codes.get(code) ?? []), when].filter((text) => text !== ''));
  }
  return codes;
}

/**
 * One response per status, its codes machine-readable (an enum on `code`) and each with an
 * example built by problemOf, the function that answers it: the status and title come from
 * STATUS_OF_CODE, the detail is the stored failure's (FAILURE_DETAIL) or the route's words.
 */
function problemsOf(doc: RouteDoc, access: Access, schemas: SchemaComponents): Record<string, JsonObject> {
  const problem = schemas.convertAnswer(problemSchema);
  const byStatus = new Map<number, [ProblemCode, string[]][]>();
  // The route's own codes first: the first is the example a reader sees.
  for (const [code, whens] of codesOf([...[doc.problems ?? []].flat(), ...commonProblems(doc, access)])) {
    const status = STATUS_OF_CODE[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), [code, whens]]);
  }
  // Integer keys keep ascending order in a JSON object, so successes and problems interleave by status.
  return Object.fromEntries(
    [...byStatus.entries()].map(([status, codes]) => {
      const narrowed = { type: 'object', properties: { status: { const: status }, code: { enum: codes.map(([code]) => code) } } };
      const schema = { allOf: [problem, narrowed] };
      const whens = codes.map(([code, texts]): [ProblemCode, string] => [code, whenOf(doc, code, texts)]);
      const examples = Object.fromEntries(whens.map(([code, when]) => [code, { value: exampleOf(code, when) }]));
      const description = whens.map(([code, when]) => `- \`${code}\`: ${when}`).join('\n');
      return [status, { description, content: { 'application/problem+json': { schema, examples } } }];
    }),
  );
}

/** The route's words for a code, else its stored failure's detail: one of them must say when it answers. */
function whenOf(doc: RouteDoc, code: ProblemCode, texts: string[]): string {
  const when = texts.length > 0 ? texts.join('; ') : FAILURE_DETAIL[code];
  if (!when) throw new Error(`${doc.operationId}: say when it answers ${code} (RouteDoc.problems, src/http/openapi.ts)`);
  return when;
}

/** As problemOf answers it, with the members the code adds (problemSchema) shaped as the service sends them. */
function exampleOf(code: ProblemCode, when: string): JsonObject {
  const detail = FAILURE_DETAIL[code] ?? when.charAt(0).toUpperCase() + when.slice(1);
  // An operation's stored failure is answered with the operation (src/http/answers.ts).
  const operation = FAILURE_DETAIL[code] !== undefined ? { operationId: EXAMPLE_OPERATION_ID } : {};
  return problemOf(new DomainError(code, detail, { ...operation, ...EXAMPLE_MEMBERS[code] })).body;
}

const EXAMPLE_OPERATION_ID = 'op_0mbx5k2rs0000c0ffee15c0ffee';
const EXAMPLE_LOCKED_UNTIL = '2024-06-03T07:30:00.000Z';

const EXAMPLE_MEMBERS: Partial<Record<ProblemCode, JsonObject>> = {
  request_in_progress: { operationId: EXAMPLE_OPERATION_ID },
  payment_password_wrong: { attemptsLeft: 2 },
  payment_locked: { lockedUntil: EXAMPLE_LOCKED_UNTIL },
  login_locked: { lockedUntil: EXAMPLE_LOCKED_UNTIL },
  rate_limited: { retryAfterSeconds: 60 },
  password_checks_busy: { retryAfterSeconds: 1 },
  plans_busy: { retryAfterSeconds: 10 },
  account_busy: { retryAfterSeconds: 1 },
  instant_daily_limit_exceeded: { remainingToday: '4000.00' },
  transfer_in_daily_limit_exceeded: { remainingToday: '20000.00' },
  reserve_exhausted: { alternative: { method: 'POST', path: '/v1/me/redemptions', channel: 'wallet', amount: '500.00', settleDate: '2024-06-04' } },
};

const JSON_SCHEMA_OPTIONS = {
  target: 'draft-2020-12',
  io: 'input',
  unrepresentable: 'any',
  // z.number().int() bounds itself to the safe integers: true of every JSON integer we send, and noise to a reader.
  override: ({ jsonSchema }: { jsonSchema: JsonObject }) => {
    if (jsonSchema.minimum === Number.MIN_SAFE_INTEGER) delete jsonSchema.minimum;
    if (jsonSchema.maximum === Number.MAX_SAFE_INTEGER) delete jsonSchema.maximum;
  },
} as const;

/**
 * zod schemas to JSON Schema, with every schema that has an id lifted into
 * components.schemas. One id must mean one schema: two different ones are refused.
 */
class SchemaComponents {
  // Every app answers instants, so their twins' schema is always there.
  readonly components: Record<string, JsonObject> = { InstantBeijing: INSTANT_BEIJING };

  /** Requests are read as their input: a transform's string, a default's optional field. */
  convert(schema: z.ZodType, adjust: (json: JsonObject) => JsonObject = (json) => json): JsonObject {
    const { $schema: _dialect, $defs, ...json } = z.toJSONSchema(schema, JSON_SCHEMA_OPTIONS) as JsonObject;
    for (const [id, definition] of Object.entries(($defs ?? {}) as Record<string, JsonObject>)) this.add(id, pointAtComponents(adjust(definition)) as JsonObject);
    return pointAtComponents(adjust(json)) as JsonObject;
  }

  /** An answer as the app serializes it: each instant with its Beijing-time twin (src/calendar/beijingTime.ts). */
  convertAnswer(schema: z.ZodType): JsonObject {
    return this.convert(schema, withDocumentedTwins);
  }

  private add(id: string, definition: JsonObject): void {
    const known = this.components[id];
    if (known && JSON.stringify(known) !== JSON.stringify(definition)) throw new Error(`two different schemas have the id ${id}`);
    this.components[id] = definition;
  }
}

const INSTANT_REF = '#/$defs/Instant';
const INSTANT_BEIJING = {
  type: 'string',
  format: 'date-time',
  pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}\\+08:00$',
  description: 'The instant before it in Beijing time: ISO 8601 with +08:00',
  examples: ['2024-06-03T15:00:00.000+08:00'],
};

const isInstant = (property: JsonObject): boolean =>
  property.$ref === INSTANT_REF || (Array.isArray(property.anyOf) && (property.anyOf as JsonObject[]).some(isInstant));

/** An instant's twin: the instant in Beijing time, nullable as the instant is. */
function beijingTwinOf(instant: JsonObject): JsonObject {
  const beijing = { $ref: '#/$defs/InstantBeijing' };
  const nullable = Array.isArray(instant.anyOf) && (instant.anyOf as JsonObject[]).some((member) => member.type === 'null');
  return nullable ? { anyOf: [beijing, { type: 'null' }] } : beijing;
}

/** Each instant property of every object schema followed by its `<name>Beijing` twin, required as it is. */
function withDocumentedTwins(json: JsonObject): JsonObject {
  if (Array.isArray(json)) return json.map((item) => withDocumentedTwins(item as JsonObject)) as unknown as JsonObject;
  if (json === null || typeof json !== 'object') return json;
  const adjusted: JsonObject = Object.fromEntries(Object.entries(json).map(([key, inner]) => [key, withDocumentedTwins(inner as JsonObject)]));
  const properties = adjusted.properties as Record<string, JsonObject> | undefined;
  if (!properties || !Object.values(properties).some(isInstant)) return adjusted;
  const twinned = (name: string) => (isInstant(properties[name]!) ? [name, `${name}${BEIJING_TWIN_SUFFIX}`] : [name]);
  return {
    ...adjusted,
    properties: Object.fromEntries(Object.keys(properties).flatMap((name) => twinned(name).map((key) => [key, properties[key] ?? beijingTwinOf(properties[name]!)]))),
    ...(adjusted.required ? { required: (adjusted.required as string[]).flatMap(twinned) } : {}),
  };
}

function pointAtComponents(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(pointAtComponents);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, inner]) => [
      key,
      key === '$ref' && typeof inner === 'string' ? inner.replace(/^#\/\$defs\//, '#/components/schemas/') : pointAtComponents(inner),
    ]),
  );
}
