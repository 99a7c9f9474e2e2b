import { DomainError } from '../http/problem.ts';

export const unauthenticated = () =>
  new DomainError('unauthenticated', 401, 'Send a valid bearer token: POST /v1/sessions gives one');
export const forbidden = () => new DomainError('forbidden', 403, 'This needs the ops role');
export const wrongLogin = () => new DomainError('login_failed', 401, 'Unknown login id or wrong password');
export const wrongLoginPassword = () =>
  new DomainError('login_password_wrong', 403, 'The login password is wrong');
export const loginIdTaken = () => new DomainError('login_id_taken', 409, 'That login id is already registered');
export const paymentPasswordNotSet = () =>
  new DomainError('payment_password_not_set', 409, 'Set a payment password first: PUT /v1/me/payment-password');
export const paymentLocked = (lockedUntil: Date) =>
  new DomainError('payment_locked', 423, 'Too many wrong payment passwords: money cannot leave this account until the lock lifts or the payment password is reset', {
    lockedUntil: lockedUntil.toISOString(),
  });
/** This process's password hashing is saturated: turned away at once, nothing counted or moved. */
export const passwordChecksBusy = () =>
  new DomainError('password_checks_busy', 503, 'Too many password checks are running on this server: try again in a moment', {
    retryAfterSeconds: 1,
  });
export const loginLocked = (lockedUntil: Date) =>
  new DomainError('login_locked', 423, 'Too many wrong login passwords: login-password checks are refused until the lock lifts', {
    lockedUntil: lockedUntil.toISOString(),
  });
export const wrongPaymentPassword = (attemptsLeft: number) =>
  new DomainError('payment_password_wrong', 403, `Wrong payment password; ${attemptsLeft} attempt(s) left before payments lock`, {
    attemptsLeft,
  });
