import type { Router } from 'express';
import { z } from 'zod';
import type { AppContext } from '../context.ts';
import { principalOf } from '../http/auth.ts';
import { apiRoutes, type ProblemDocs } from '../http/openapi.ts';
import { instantText } from '../http/openapi/schemas.ts';
import { paymentPassword } from '../http/validate.ts';
import { createSession, registerUser, setPaymentPassword, signOut, signOutEverywhere } from './service.ts';

const loginId = z.string().min(3).max(64).regex(/^[A-Za-z0-9_.@+-]+$/, 'letters, digits and _ . @ + - only');
const loginPassword = z.string().min(8).max(128).meta({ format: 'password' });

/** A user id (src/auth/service.ts): the holder look-up and the audit's actor filter take a user id or a login id, so a new login never looks like one. */
const USER_ID_SHAPE = /^u_[A-Za-z0-9_-]{12}$/;
const newLoginId = loginId.refine((id) => !USER_ID_SHAPE.test(id), 'must not look like a user id (u_ and 12 characters)');

const registration = z.strictObject({ loginId: newLoginId, loginPassword });
const paymentPasswordChange = z.strictObject({ loginPassword, paymentPassword });

const RATE_LIMITED = 'too many attempts; try again later';
const PASSWORD_CHECKS_BUSY =
  'this server\'s password hashing is saturated; turned away at once, nothing counted, nothing moved; try again shortly';

/** How soon a signed-out token is refused, by every API process. */
const SIGN_OUT_REACH =
  'No money leg checked under a signed-out session applies once the sign-out has answered, in any process. ' +
  'Requests that change security state or move money (every method but GET under /v1/me) get 401 at once; ' +
  'read-only routes of a process that read the session lately may answer it for up to security.sessionMemoryMs more.';

/** What a request that checks the payment password can meet. */
export const PAYMENT_PASSWORD_PROBLEMS: ProblemDocs = {
  payment_password_wrong: 'the payment password is wrong',
  payment_password_not_set: 'set one first: PUT /v1/me/payment-password',
  security_state_changed:
    'a sign-out of one of the holder\'s sessions, or a payment-password reset or lock, came after this request was checked; nothing moved; a session still signed in may try again with a new Idempotency-Key',
  payment_locked: 'too many wrong payment passwords (attempts whose check never finished count as wrong); it lifts by itself or on a reset',
  password_checks_busy: PASSWORD_CHECKS_BUSY,
  rate_limited: RATE_LIMITED,
};

const AUTH_TAG = { name: 'Auth', description: 'Sign up, sign in and out, and the payment password that every money movement out of the account needs.' };

export function authRoutes(ctx: AppContext): Router {
  const api = apiRoutes(AUTH_TAG);
  api.post(
    '/v1/users',
    {
      operationId: 'register',
      summary: 'Register a user; this opens their account',
      body: registration,
      responses: { 201: { description: 'Registered', body: z.object({ userId: z.string(), loginId: z.string() }) } },
      problems: { login_id_taken: 'another user has this login id', password_checks_busy: PASSWORD_CHECKS_BUSY },
    },
    async ({ body }, res) => {
      const user = await registerUser(ctx, body.loginId, body.loginPassword);
      res.status(201).json({ userId: user.userId, loginId: user.loginId });
    },
  );
  api.post(
    '/v1/sessions',
    {
      operationId: 'signIn',
      summary: 'Sign in: a bearer token for the other routes',
      body: registration,
      responses: {
        201: { description: 'Signed in: send `Authorization: Bearer <token>`', body: z.object({ token: z.string(), userId: z.string(), expiresAt: instantText }) },
      },
      problems: {
        login_failed: 'unknown login id, wrong password, or login-password checks of this user locked (see login_locked)',
        rate_limited: `${RATE_LIMITED}, per address and login id, and per address whatever the login id`,
        password_checks_busy: PASSWORD_CHECKS_BUSY,
      },
    },
    async ({ body }, res) => {
      const session = await createSession(ctx, body.loginId, body.loginPassword);
      res.status(201).json({ token: session.token, userId: session.userId, expiresAt: session.expiresAt.toISOString() });
    },
  );
  api.put(
    '/v1/me/payment-password',
    {
      operationId: 'setPaymentPassword',
      summary: 'Set or reset the payment password; this lifts a payment lock and signs out every other session of the holder',
      body: paymentPasswordChange,
      responses: { 204: { description: 'Set' } },
      problems: {
        login_password_wrong: 'the login password is wrong',
        login_locked: 'too many wrong login passwords here and at sign-in (one count); it lifts by itself',
        rate_limited: RATE_LIMITED,
        password_checks_busy: PASSWORD_CHECKS_BUSY,
      },
    },
    async ({ body }, res) => {
      await setPaymentPassword(ctx, principalOf(res), body.loginPassword, body.paymentPassword);
      res.status(204).end();
    },
  );
  api.delete(
    '/v1/me/session',
    {
      operationId: 'signOut',
      summary: 'Sign out: this token is refused from now on',
      description: SIGN_OUT_REACH,
      responses: { 204: { description: 'Signed out' } },
    },
    async (_input, res) => {
      await signOut(ctx, principalOf(res));
      res.status(204).end();
    },
  );
  api.delete(
    '/v1/me/sessions',
    {
      operationId: 'signOutEverywhere',
      summary: 'Sign out everywhere: every session of the holder ends, this one included',
      description: `${SIGN_OUT_REACH} A money request already checked under one of them and not yet applied fails with security_state_changed.`,
      responses: { 204: { description: 'Signed out everywhere' } },
    },
    async (_input, res) => {
      await signOutEverywhere(ctx, principalOf(res));
      res.status(204).end();
    },
  );
  return api.router;
}
