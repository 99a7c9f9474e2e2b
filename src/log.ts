import { pino } from 'pino';

/** Fields that hold a secret or what guards one, wherever a caller puts them. */
const SECRET_FIELDS = ['password', 'loginPassword', 'paymentPassword', 'loginPasswordHash', 'paymentPasswordHash', 'token', 'authorization', 'cookie'];

// One structured logger for the whole service. Secrets never reach it: request bodies and
// headers are not logged (the request line carries method, route, status, duration and ids),
// and these fields are censored at the top level and two levels down in case a caller logs
// an object that holds one.
export const log = pino({
  level: process.env.LOG_LEVEL ?? (process.env.NODE_ENV === 'test' ? 'warn' : 'info'),
  redact: {
    paths: SECRET_FIELDS.flatMap((field) => [field, `*.${field}`, `*.*.${field}`]),
    censor: '[redacted]',
  },
});
