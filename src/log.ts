import { pino } from 'pino';

/** Fields that hold a secret or what guards one, wherever a caller puts them. */
const SECRET_FIELDS = ['password', 'loginPassword', 'paymentPassword', 'loginPasswordHash', 'paymentPasswordHash', 'token', 'authorization', 'cookie'];

/** Where log lines go: a line at a time, whole lines only. */
export interface LogSink {
  write(line: string): unknown;
}

// pino's own default: stdout, buffered and flushed at exit. The service's supervisor collects it.
let sink: LogSink = pino.destination({ dest: process.stdout.fd });

/** Sends log lines elsewhere from now on (the ops CLI keeps stdout for its answer); returns where they went. */
export function sendLogsTo(next: LogSink): LogSink {
  const previous = sink;
  sink = next;
  return previous;
}

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
}, { write: (line: string) => sink.write(line) });
