import { readFileSync } from 'node:fs';
import type { Application } from 'express';
import { z } from 'zod';
import { accessOf, routeDocOf, type Access, type DocumentedHandler, type Method, type RouteDoc } from '../openapi.ts';
import { problemSchema } from './schemas.ts';

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

const PACKAGE_VERSION = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

function buildDocument(routes: ServedRoute[]): JsonObject {
  const schemas = new SchemaComponents();
  const paths: Record<string, Record<string, JsonObject>> = {};
  for (const route of routes) {
    const path = route.path.replace(/:(\w+)/g, '{$1}');
    paths[path] = { ...paths[path], [route.method]: operationOf(route, schemas) };
  }
  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info: {
      title: 'moneyfund',
      version: PACKAGE_VERSION,
      description: [
        'A money-market-fund balance service (余额宝 style). Money is carried as yuan strings ("1234.56"), never numbers.',
        'Sign in with POST /v1/sessions and send `Authorization: Bearer <token>`; routes under /v1/ops need a user with the ops role.',
        'Every request that moves money needs an Idempotency-Key: a replay returns the first answer (`Idempotent-Replayed: true`) and moves nothing.',
        'Errors are application/problem+json (RFC 9457) with a stable `code`.',
      ].join('\n\n'),
    },
    tags: [...new Set(routes.map((route) => route.documented.tag))].map((name) => ({ name })),
    paths,
    components: {
      schemas: schemas.components,
      securitySchemes: {
        bearerAuth: {
          type: 'http',
          scheme: 'bearer',
          description: 'A session token from POST /v1/sessions. An operation that lists the role `ops` needs a user with the ops role.',
        },
      },
      parameters: { IdempotencyKey: IDEMPOTENCY_KEY },
    },
  };
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
    tags: [tag],
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
      const media = body ? { schema: schemas.convert(body) } : {};
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

/** The problems every route of its kind can answer, then the route's own, merged by status. */
function problemsOf(doc: RouteDoc, access: Access, schemas: SchemaComponents): Record<string, JsonObject> {
  const hasInput = doc.params || doc.query || doc.body || doc.idempotencyKey;
  const common: [number, string | false | undefined][] = [
    [400, hasInput && 'invalid_request: the input does not match this schema (`issues` lists each field)'],
    [400, doc.idempotencyKey && 'idempotency_key_required, invalid_idempotency_key'],
    [401, access !== 'public' && 'unauthenticated: no valid bearer token'],
    [403, access === 'ops' && 'forbidden: the user lacks the ops role'],
    [409, doc.idempotencyKey && 'request_in_progress: a request with this Idempotency-Key is still running; retry later'],
    [413, doc.body && 'payload_too_large'],
    [415, doc.body && 'unsupported_media_type: send application/json in UTF-8'],
    [422, doc.idempotencyKey && 'idempotency_key_reused: this Idempotency-Key came with another body'],
    // Every request that moves money (the ones with an Idempotency-Key) carries an amount.
    [422, doc.idempotencyKey && 'amount_above_maximum: the amount is above the most one request may move'],
    [503, doc.idempotencyKey && 'account_busy (retryAfterSeconds, Retry-After): too many movements of this account are still being finished; the service finishes this one, or send it again shortly with the same Idempotency-Key'],
    ...[doc.problems ?? []].flat().flatMap((set) => Object.entries(set).map(([status, text]): [number, string] => [Number(status), text])),
  ];
  const byStatus = new Map<number, string[]>();
  for (const [status, text] of common) if (text) byStatus.set(status, [...(byStatus.get(status) ?? []), text]);
  const schema = schemas.convert(problemSchema);
  // Integer keys keep ascending order in a JSON object, so successes and problems interleave by status.
  return Object.fromEntries(
    [...byStatus.entries()].map(([status, texts]) => [status, { description: texts.join('; '), content: { 'application/problem+json': { schema } } }]),
  );
}

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
  readonly components: Record<string, JsonObject> = {};

  /** Requests are read as their input: a transform's string, a default's optional field. */
  convert(schema: z.ZodType): JsonObject {
    const { $schema: _dialect, $defs, ...json } = z.toJSONSchema(schema, JSON_SCHEMA_OPTIONS) as JsonObject;
    for (const [id, definition] of Object.entries(($defs ?? {}) as Record<string, JsonObject>)) this.add(id, pointAtComponents(definition) as JsonObject);
    return pointAtComponents(json) as JsonObject;
  }

  private add(id: string, definition: JsonObject): void {
    const known = this.components[id];
    if (known && JSON.stringify(known) !== JSON.stringify(definition)) throw new Error(`two different schemas have the id ${id}`);
    this.components[id] = definition;
  }
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
