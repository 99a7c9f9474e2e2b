import { Router, type Request, type RequestHandler, type Response } from 'express';
import type { z } from 'zod';
import { idempotencyKeyOf } from './idempotency.ts';
import type { ProblemCode } from './problem.ts';
import { parseBody, parseQuery, parseWith } from './validate.ts';

/**
 * How a route documents itself: it is registered through `apiRoutes(tag)` with a RouteDoc
 * next to its handler. The helper parses the path parameters, query and body with the
 * doc's zod schemas and hands the parsed input to the handler; src/http/openapi/document.ts
 * turns the very same schema objects into /openapi.json. So what is validated and what is
 * documented cannot drift apart, and a route without a doc shows up in the test that walks
 * the app (test/api/openapi.test.ts).
 */

/** Who may call: anyone, a signed-in user (bearer token), or a user with the ops role. */
export type Access = 'public' | 'user' | 'ops';

export type Method = 'get' | 'post' | 'put' | 'delete';

export interface ResponseDoc {
  description: string;
  /** The body's shape; none for a 204. */
  body?: z.ZodType;
  /** application/json unless said otherwise (text/html, text/csv, ...). */
  contentType?: string;
  /** Other media types the same answer comes in, by content negotiation (text/csv), without a schema. */
  alsoAs?: string[];
}

export interface RouteDoc {
  /** Unique across the API, a verb and a noun: `topUp`, `listOperations`. */
  operationId: string;
  summary: string;
  description?: string;
  /** An object schema with one key per `:name` in the path. */
  params?: z.ZodObject;
  query?: z.ZodObject;
  body?: z.ZodType;
  /** The route moves money: it needs an Idempotency-Key header, handed to the handler. */
  idempotencyKey?: true;
  /** The success answers by status. */
  responses: Record<number, ResponseDoc>;
  /**
   * The problems this route answers beyond the ones every route of its kind has (see
   * document.ts). Several sets merge, so modules can share theirs.
   */
  problems?: ProblemDocs | ProblemDocs[];
}

/**
 * Result codes and when this route answers each; the status is the code's in STATUS_OF_CODE.
 * '' when the code says it all and an operation's stored failure (FAILURE_DETAIL) tells the rest.
 */
export type ProblemDocs = Partial<Record<ProblemCode, string>>;

/** A group of operations in the document: one module's routes. */
export interface TagDoc {
  name: string;
  description: string;
}

type Parsed<D, K extends string> = D extends { [key in K]: infer S extends z.ZodType } ? z.output<S> : undefined;

export interface RouteInput<D extends RouteDoc> {
  params: Parsed<D, 'params'>;
  query: Parsed<D, 'query'>;
  body: Parsed<D, 'body'>;
  idempotencyKey: D extends { idempotencyKey: true } ? string : undefined;
}

export type RouteHandler<D extends RouteDoc> = (input: RouteInput<D>, res: Response) => unknown;

/** What apiRoutes attached to a handler: document.ts reads it back while it walks the app. */
export interface DocumentedHandler {
  tag: TagDoc;
  doc: RouteDoc;
}

type Register = <const D extends RouteDoc>(path: string, doc: D, handler: RouteHandler<D>) => void;

export interface ApiRoutes {
  router: Router;
  get: Register;
  post: Register;
  put: Register;
  delete: Register;
}

const documented = new WeakMap<RequestHandler, DocumentedHandler>();

/** The doc a handler was registered with, if it was registered through apiRoutes. */
export function routeDocOf(handler: unknown): DocumentedHandler | undefined {
  return documented.get(handler as RequestHandler);
}

// Who may call is what src/app.ts's middleware demands on the path; these mirror it, and
// the test checks every operation's documented access against the app.
const USER_PREFIXES = ['/v1/me', '/v1/accounts', '/v1/ops'];
const OPS_PREFIX = '/v1/ops';
const isUnder = (path: string, prefix: string) => path === prefix || path.startsWith(`${prefix}/`);

export function accessOf(path: string): Access {
  if (isUnder(path, OPS_PREFIX)) return 'ops';
  return USER_PREFIXES.some((prefix) => isUnder(path, prefix)) ? 'user' : 'public';
}

/** The routes of one module, on a router of their own; the tag groups them in the document. */
export function apiRoutes(tag: TagDoc): ApiRoutes {
  const router = Router();
  const register =
    (method: Method): Register =>
    (path, doc, handler) => {
      requireParamsMatch(method, path, doc);
      const handle: RequestHandler = async (req, res) => {
        await handler(readInput(doc, req) as never, res);
      };
      documented.set(handle, { tag, doc });
      router[method](path, handle);
    };
  return { router, get: register('get'), post: register('post'), put: register('put'), delete: register('delete') };
}

/** A route whose `:name`s and params schema disagree would be documented wrong: refuse it at start-up. */
function requireParamsMatch(method: Method, path: string, doc: RouteDoc): void {
  const inPath = [...path.matchAll(/:(\w+)/g)].map((match) => match[1]).sort();
  const inSchema = Object.keys(doc.params?.shape ?? {}).sort();
  if (inPath.join() !== inSchema.join()) {
    throw new Error(`${method.toUpperCase()} ${path}: path parameters [${inPath.join(', ')}] but params schema [${inSchema.join(', ')}]`);
  }
}

/** The Idempotency-Key first, as before the helper existed: a retry without one is refused whatever its body. */
function readInput(doc: RouteDoc, req: Request) {
  return {
    idempotencyKey: doc.idempotencyKey ? idempotencyKeyOf(req) : undefined,
    params: doc.params ? parseWith(doc.params, req.params) : undefined,
    query: doc.query ? parseQuery(doc.query, req) : undefined,
    body: doc.body ? parseBody(doc.body, req) : undefined,
  };
}
