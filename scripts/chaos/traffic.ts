/**
 * How the chaos clients talk to the API processes: every money request is resent with its
 * Idempotency-Key, to one API process and then the other, until it gets a final answer; a
 * request that keeps a client waiting goes on resending in the background while the client
 * sends its next one.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { formatYuan } from '../../src/money/fen.ts';
import type { Processes } from './processes.ts';

export type Auth = { Authorization: string };

/** A line of the run's story on stderr (the figures go to stdout). */
export const log = (text: string) => process.stderr.write(`chaos: ${text}\n`);

/** A money request, e.g. `{ route: 'POST /v1/me/top-ups', body: { amount: '1.00', … }, auth }`. */
export interface MoneyRequest {
  route: string;
  body: object;
  auth: Auth;
}

export interface Answer {
  status: number;
  code: string | undefined;
  body: Record<string, unknown>;
  /** When the answer arrived (Date.now()). */
  atMs: number;
}

/** Failures the operation stored (nothing moved): a replay gets them again, so they are final. */
const FINAL_5XX = ['interrupted', 'bank_unavailable'];
/**
 * How long one attempt may take before the key goes to the other process. Longer than a
 * freeze (the frozen process answers once resumed, while the others have run recovery) and
 * than a slow answer on a busy machine: an attempt cut short goes on in the server, and with
 * 12 s most requests were resent into the checks still running for their earlier attempts
 * (a run answered 265 of 632).
 */
const ATTEMPT_TIMEOUT_MS = 30_000;

export class Sender {
  sent = 0;
  answered = 0;
  /** Requests sent by scenario. */
  readonly sentBy: Record<string, number> = {};
  /** Answers that were not final (resent), by scenario and status, e.g. "409 request_in_progress". */
  readonly resentAfter: Record<string, Record<string, number>> = {};
  /** Requests with no final answer in time, by scenario and last answer. */
  readonly unanswered: Record<string, Record<string, number>> = {};
  /** Final answers by scenario, then by route and status, e.g. "POST /v1/me/payments 201". */
  readonly outcomes: Record<string, Record<string, number>> = {};
  readonly #background = new Set<Promise<unknown>>();

  constructor(
    private readonly processes: Processes,
    private readonly operationsMax: number,
    private readonly giveUpAtMs: number,
  ) {}

  get budgetLeft(): boolean {
    return this.sent < this.operationsMax;
  }

  /** Sends until a final answer (2xx, a 4xx other than 409 request_in_progress, a stored failure); undefined if none came in time. */
  async send(scenario: string, { route, body, auth }: MoneyRequest): Promise<Answer | undefined> {
    if (Date.now() >= this.giveUpAtMs) return undefined;
    this.sent++;
    this.sentBy[scenario] = (this.sentBy[scenario] ?? 0) + 1;
    const [method, pathname] = route.split(' ') as [string, string];
    const key = `chaos-${Math.random().toString(36).slice(2)}${Date.now().toString(36)}`;
    const firstApi = Math.floor(Math.random() * 2);
    let last = 'not sent';
    for (let attempt = 0; Date.now() < this.giveUpAtMs; attempt++) {
      const url = this.processes.apiUrls[(firstApi + attempt) % 2]!;
      const answer = await attemptOnce(`${url}${pathname}`, method, { ...auth, 'content-type': 'application/json', 'idempotency-key': key }, body);
      if (answer && isFinal(answer)) {
        this.answered++;
        countInto(this.outcomes, scenario, `${method} ${routeTemplate(pathname)} ${statusText(answer)}`);
        return answer;
      }
      last = answer ? statusText(answer) : 'no answer';
      countInto(this.resentAfter, scenario, last);
      // A dead process: at once to the other one; an operation still in progress or a busy account: a little later.
      await sleep(answer ? 500 + Math.random() * 500 : 100 + Math.random() * 200);
    }
    countInto(this.unanswered, scenario, `${method} ${routeTemplate(pathname)} ${last}`);
    return undefined;
  }

  /** Sends, waiting at most `patienceMs` for the answer: a slower request goes on in the background. */
  async sendPatiently(scenario: string, request: MoneyRequest, patienceMs: number): Promise<void> {
    const answered = this.send(scenario, request);
    this.#background.add(answered);
    void answered.finally(() => this.#background.delete(answered));
    await Promise.race([answered, sleep(patienceMs)]);
  }

  /** Waits for the requests still resending in the background. */
  async drain(): Promise<void> {
    while (this.#background.size > 0) await Promise.all([...this.#background]);
  }
}

function countInto(counts: Record<string, Record<string, number>>, scenario: string, outcome: string): void {
  const ofScenario = (counts[scenario] ??= {});
  ofScenario[outcome] = (ofScenario[outcome] ?? 0) + 1;
}

const statusText = (answer: Answer) => `${answer.status}${answer.code ? ` ${answer.code}` : ''}`;

async function attemptOnce(url: string, method: string, headers: Record<string, string>, body: object): Promise<Answer | undefined> {
  try {
    const response = await fetch(url, { method, headers, body: JSON.stringify(body), signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS) });
    const answer = (await response.json().catch(() => ({}))) as Record<string, unknown>;
    return { status: response.status, code: answer['code'] as string | undefined, body: answer, atMs: Date.now() };
  } catch {
    return undefined; // killed, frozen past the timeout, or still starting: the same key again
  }
}

function isFinal(answer: Answer): boolean {
  return (answer.status < 500 && answer.code !== 'request_in_progress') || FINAL_5XX.includes(answer.code ?? '');
}

function routeTemplate(pathname: string): string {
  return pathname.startsWith('/v1/ops/funds') ? '/v1/ops/funds/:fund/yields/:date' : pathname;
}

/** A GET through whichever API process answers first, e.g. a holder's account. */
export async function readJson(processes: Processes, pathname: string, auth: Auth): Promise<Record<string, unknown>> {
  for (let attempt = 0; ; attempt++) {
    const url = processes.apiUrls[attempt % 2]!;
    const response = await fetch(`${url}${pathname}`, { headers: auth, signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS) }).catch(() => undefined);
    if (response?.ok) return (await response.json()) as Record<string, unknown>;
    await sleep(100 + Math.random() * 200);
  }
}

/** A random amount of yuan between minFen and maxFen, as the API takes it ("12.34"). */
export function randomYuan(minFen: number, maxFen: number): string {
  return formatYuan(BigInt(minFen + Math.floor(Math.random() * (maxFen - minFen + 1))));
}

/** Runs `count` calls of `task` with at most `concurrency` at once. */
export async function inParallel(count: number, concurrency: number, task: (index: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(count, concurrency) }, lane));
}
