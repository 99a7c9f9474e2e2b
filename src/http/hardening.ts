import { Router, type Request, type RequestHandler, type Response } from 'express';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import helmet from 'helmet';
import type { AppContext } from '../context.ts';
import { principalOf } from './auth.ts';
import { DomainError } from '../errors.ts';
import { sendProblem } from './problem.ts';

/**
 * Security headers. The CSP lets pages run only scripts served by this origin as files (no
 * inline script, no eval): the dashboard and the API docs page load theirs from here.
 * Inline styles are allowed for the chart and docs libraries, which set them at run time;
 * images may be data: URLs (icons of the docs page). No framing, no plugins.
 */
export function securityHeaders(): RequestHandler {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        scriptSrcAttr: ["'none'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:'],
        fontSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
    },
    xFrameOptions: { action: 'deny' },
  });
}

/** Every request that carries or sets a payment password: each costs a scrypt, each guesses. */
const PAYMENT_PASSWORD_ROUTES = [
  ['put', '/v1/me/payment-password'],
  ['post', '/v1/me/withdrawals'],
  ['post', '/v1/me/redemptions'],
  ['post', '/v1/me/instant-redemptions'],
  ['post', '/v1/me/payments'],
] as const;

/**
 * Rate limits (config `security.rateLimits`): sign-in per client address and login id, so one
 * address cannot hammer an account and one account's attacker does not lock out the others
 * behind the same address; sign-in per client address whatever the login id, as unknown ids
 * cost a hash too; payment-password requests per signed-in user, one budget across
 * those routes. Mount after authentication. Counts live in this process's memory: each API
 * process allows the limit on its own.
 */
export function rateLimits(ctx: AppContext): Router {
  const { login, loginPerAddress, paymentPassword } = ctx.config.security.rateLimits;
  const router = Router();
  router.post(
    '/v1/sessions',
    limiter(loginPerAddress, 'sign-in attempts from this address', (req) => ipKeyGenerator(req.ip ?? '')),
    limiter(login, 'sign-in attempts for this login id', (req) => `${ipKeyGenerator(req.ip ?? '')}|${loginIdOf(req)}`),
  );
  const perUser = limiter(paymentPassword, 'payment-password requests', (_req, res) => principalOf(res).userId);
  for (const [method, path] of PAYMENT_PASSWORD_ROUTES) router[method](path, perUser);
  return router;
}

function loginIdOf(req: Request): string {
  const loginId: unknown = req.body?.loginId;
  // Any string is a key (validation comes later); a long one is cut so keys stay small.
  return typeof loginId === 'string' ? loginId.slice(0, 128) : '';
}

function limiter(limit: { windowMs: number; max: number }, what: string, keyOf: (req: Request, res: Response) => string): RequestHandler {
  return rateLimit({
    windowMs: limit.windowMs,
    limit: limit.max,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    keyGenerator: keyOf,
    handler: (_req, res) => {
      const retryAfterSeconds = Number(res.getHeader('Retry-After'));
      sendProblem(res, new DomainError('rate_limited', `Too many ${what}: try again in ${retryAfterSeconds} s`, { retryAfterSeconds }, { values: { retryAfterSeconds } }));
    },
  });
}
