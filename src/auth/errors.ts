import { DomainError } from '../errors.ts';

export const unauthenticated = () =>
  new DomainError('unauthenticated', 'Send a valid bearer token: POST /v1/sessions gives one');
export const forbidden = () => new DomainError('forbidden', 'This needs the ops role');
export const wrongLogin = () => new DomainError('login_failed', 'Unknown login id or wrong password');
export const wrongLoginPassword = () =>
  new DomainError('login_password_wrong', 'The login password is wrong');
export const loginIdTaken = () => new DomainError('login_id_taken', 'That login id is already registered');
export const paymentPasswordNotSet = () =>
  new DomainError('payment_password_not_set', 'Set a payment password first: PUT /v1/me/payment-password');
export const paymentLocked = (lockedUntil: Date) =>
  new DomainError('payment_locked', 'Too many wrong payment passwords: money cannot leave this account until the lock lifts or the payment password is reset', {
    lockedUntil: lockedUntil.toISOString(),
  });
/** This process's password hashing is saturated: turned away at once, nothing counted or moved. */
export const passwordChecksBusy = () =>
  new DomainError('password_checks_busy', 'Too many password checks are running on this server: try again in a moment', {
    retryAfterSeconds: 1,
  });
export const loginLocked = (lockedUntil: Date) =>
  new DomainError('login_locked', 'Too many wrong login passwords: login-password checks are refused until the lock lifts', {
    lockedUntil: lockedUntil.toISOString(),
  });
export const wrongPaymentPassword = (attemptsLeft: number) =>
  new DomainError('payment_password_wrong', `Wrong payment password; ${attemptsLeft} attempt(s) left before payments lock`, { attemptsLeft }, { values: { attemptsLeft } });
