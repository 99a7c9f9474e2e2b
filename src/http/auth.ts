import type { NextFunction, Request, Response } from 'express';
import { forbidden, unauthenticated } from '../auth/errors.ts';
import { authenticate, type Principal } from '../auth/service.ts';
import type { AppContext } from '../context.ts';

const BEARER = /^Bearer ([A-Za-z0-9_-]{20,128})$/;

/**
 * `cached`: the session may be read a moment ago (src/db/readCache.ts), for the holder's
 * routes, where only who the caller is matters; role changes reach them at once otherwise.
 */
export function requireUser(ctx: AppContext, sessionRead: 'fresh' | 'cached' = 'fresh') {
  return async (req: Request, res: Response, next: NextFunction) => {
    const match = BEARER.exec(req.get('authorization') ?? '');
    if (!match) throw unauthenticated();
    res.locals.principal = await authenticate(ctx, match[1]!, sessionRead);
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
