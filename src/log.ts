import { pino } from 'pino';

// One structured logger for the whole service. Secrets never reach it: request bodies
// are not logged and the password fields are redacted in case a caller logs an object.
export const log = pino({
  level: process.env.LOG_LEVEL ?? (process.env.NODE_ENV === 'test' ? 'warn' : 'info'),
  redact: ['*.password', '*.paymentPassword', '*.loginPassword', 'password', 'req.headers.authorization'],
});
