import type { NextFunction, Request, Response } from 'express';
import { forbidden, unauthenticated } from '../auth/errors.ts';
import { authenticate, type Principal } from '../auth/service.ts';
import type { AppContext } from '../context.ts';

const BEARER = /^Bearer ([A-Za-z0-9_-]{20,128})$/;

/** Methods that change nothing: only these may use a session read a while ago. */
const READ_ONLY_METHODS = new Set(['GET', 'HEAD']);

/**
 * `cached`: a read-only request may use the session read a while ago (src/db/readCache.ts),
 * for the holder's routes, where only who the caller is matters, so a sign-out reaches them
 * within security.sessionMemoryMs; every other request (it may move money or change security
 * state) reads it afresh, so a sign-out stops it at once. Role changes reach ops routes at once.
 */
export function requireUser(ctx: AppContext, sessionRead: 'fresh' | 'cached' = 'fresh') {
  return async (req: Request, res: Response, next: NextFunction) => {
    const match = BEARER.exec(req.get('authorization') ?? '');
    if (!match) throw unauthenticated();
    const read = sessionRead === 'cached' && READ_ONLY_METHODS.has(req.method) ? 'cached' : 'fresh';
    res.locals.principal = await authenticate(ctx, match[1]!, read);
    next();
  };
}

export function requireOps(_req: Request, res: Response, next: NextFunction) {
  if (!principalOf(res).roles.includes('ops')) throw forbidden();
  next();
}

export function principalOf(res: Response): Principal {
  return res.locals.principal as Principal;
}
