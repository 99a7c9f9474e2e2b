import { Router } from 'express';
import { z } from 'zod';
import type { AppContext } from '../context.ts';
import { principalOf } from '../http/auth.ts';
import { parseBody, paymentPassword } from '../http/validate.ts';
import { createSession, registerUser, setPaymentPassword } from './service.ts';

const loginId = z.string().min(3).max(64).regex(/^[A-Za-z0-9_.@+-]+$/, 'letters, digits and _ . @ + - only');
const loginPassword = z.string().min(8).max(128);

const registration = z.strictObject({ loginId, loginPassword });
const paymentPasswordChange = z.strictObject({ loginPassword, paymentPassword });

export function authRoutes(ctx: AppContext): Router {
  const router = Router();
  router.post('/v1/users', async (req, res) => {
    const input = parseBody(registration, req);
    const user = await registerUser(ctx, input.loginId, input.loginPassword);
    res.status(201).json({ userId: user.userId, loginId: user.loginId });
  });
  router.post('/v1/sessions', async (req, res) => {
    const input = parseBody(registration, req);
    const session = await createSession(ctx, input.loginId, input.loginPassword);
    res.status(201).json({ token: session.token, userId: session.userId, expiresAt: session.expiresAt.toISOString() });
  });
  router.put('/v1/me/payment-password', async (req, res) => {
    const input = parseBody(paymentPasswordChange, req);
    await setPaymentPassword(ctx, principalOf(res).userId, input.loginPassword, input.paymentPassword);
    res.status(204).end();
  });
  return router;
}
