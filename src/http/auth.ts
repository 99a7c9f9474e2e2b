import type { NextFunction, Request, Response } from 'express';
import { forbidden, unauthenticated } from '../auth/errors.ts';
import { authenticate, type Principal } from '../auth/service.ts';
import type { AppContext } from '../context.ts';

const BEARER = /^Bearer ([A-Za-z0-9_-]{20,128})$/;

/** Methods that change nothing: these may use a session read a while ago. */
const READ_ONLY_METHODS = new Set(['GET', 'HEAD']);
/**
 * Requests whose money moves only through a leg guarded by the session's epoch, and which
 * confirm the session before anything else they do (a payment-password check): these may use
 * a session read a while ago too, since a sign-out raises the epoch, which refuses the leg.
 */
const EPOCH_GUARDED_POSTS = new Set(['/v1/me/instant-redemptions', '/v1/me/payments']);

function mayRememberSession(req: Request): boolean {
  return READ_ONLY_METHODS.has(req.method) || (req.method === 'POST' && EPOCH_GUARDED_POSTS.has(req.baseUrl + req.path));
}

/**
 * `cached`: for the holder's routes, a read-only request may use the session read a while ago
 * (src/db/readCache.ts), since only who the caller is matters, so a sign-out reaches them within
 * security.sessionMemoryMs; so may an epoch-guarded payment, which a sign-out stops at once all
 * the same. Every other request reads it afresh, so a sign-out stops it at once. Role changes
 * reach ops routes at once.
 */
export function requireUser(ctx: AppContext, sessionRead: 'fresh' | 'cached' = 'fresh') {
  return async (req: Request, res: Response, next: NextFunction) => {
    const match = BEARER.exec(req.get('authorization') ?? '');
    if (!match) throw unauthenticated();
    const read = sessionRead === 'cached' && mayRememberSession(req) ? 'cached' : 'fresh';
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

/** Who moves money out, for the legs' epoch guard (src/auth/epochs.ts). */
export function moneyOutCaller(res: Response, idempotencyKey: string) {
  const { userId, sessionId, sessionsEpoch, sessionRemembered } = principalOf(res);
  return { userId, sessionId, sessionsEpoch, sessionRemembered, idempotencyKey };
}
