// The service's settings, read by the `config` package from config/*.json
// (default.json, then <NODE_ENV>.json) and validated once into a frozen object.
import config from 'config';
import { IANAZone } from 'luxon';
import { z } from 'zod';
import { isBusinessDate } from '../calendar/businessDate.ts';
import { isYieldPer10kText, parseYieldPer10k } from '../money/yield.ts';

// Integer fen as a JSON string (numbers lose exactness above 2^53); below 10^18 so
// it fits a BSON int64.
const fenString = z
  .string()
  .regex(/^(0|[1-9]\d{0,17})$/, 'expected integer fen as a string, e.g. "1000000"')
  .transform((text) => BigInt(text));
const positiveFenString = fenString.refine((fen) => fen > 0n, 'expected more than zero fen');
const positiveInt = z.number().int().positive();

/**
 * The largest balance maximum the books can carry. Stored figures are int64 (at most
 * 2^63 − 1 fen), and a balance can pass its maximum without a credit refusing it: a wallet
 * receives the settlements it accepted at request time and refunds it is owed (at most
 * one balance maximum more again, see src/transfers/advance.ts), and a holding grows by the
 * income carried forward each day (at most × (1 + 9999.9999 / 10,000) a day at the largest
 * 万份收益 ops can publish). The exact product shares × 万份收益 (up to 2^43 × 10^8 ≈ 2^70)
 * lives only in bigint arithmetic; what is stored of it is each holder's truncation
 * remainder, below 10^8 × 10^-8 fen. So: balance maximum × 2^20 ≤ 2^63 − 1, leaving a
 * factor of 2^20 (about a million) for all of that: 2^43 − 1 = 8,796,093,022,207 fen, some
 * 88 billion yuan. Totals across holders are not bounded by it: they are bigint in
 * JavaScript and stored as decimal strings (src/income/accrual.ts).
 */
export const BALANCE_MAX_LIMIT_FEN = (1n << 43n) - 1n;
const rateLimit = z.strictObject({ windowMs: positiveInt, max: positiveInt });

const yieldPer10kText = z.string().refine(isYieldPer10kText, 'expected yuan per 10,000 shares with at most 4 decimals, e.g. "0.4123"');

const fundSchema = z.strictObject({
  code: z.string().regex(/^[A-Z0-9]{3,12}$/, 'expected 3 to 12 capital letters or digits'),
  name: z.string().min(1),
  sevenDayYieldMode: z.enum(['compound', 'simple']),
  /**
   * The fund's first accrued day (docs/ops-guard-rails.md). Days before it are reference:
   * shown and in the 7-day yield, never accrued. Ops may set it once instead (PUT
   * /v1/ops/funds/:fundCode/start) before any accrual; without either, the first published day.
   */
  startDate: z.string().refine(isBusinessDate, 'expected a yyyy-MM-dd date').optional(),
  /** A 万份收益 outside min..max (inclusive) waits for a second ops user to confirm it. */
  yieldPer10kBand: z
    .strictObject({ min: yieldPer10kText, max: yieldPer10kText })
    .refine((band) => parseYieldPer10k(band.min) <= parseYieldPer10k(band.max), 'expected min <= max')
    .optional(),
});

const configSchema = z.strictObject({
  zone: z.string().refine((zone) => IANAZone.isValidZone(zone), 'expected an IANA time zone'),
  cutoff: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'expected HH:mm'),
  holidays: z.array(z.string().refine(isBusinessDate, 'expected a yyyy-MM-dd date')),
  funds: z
    .array(fundSchema)
    .min(1)
    .refine((funds) => new Set(funds.map((fund) => fund.code)).size === funds.length, 'expected unique fund codes'),
  limits: z.strictObject({
    instantRedeemDailyMaxFen: fenString,
    paymentsCountTowardInstantCap: z.boolean(),
    // null switches the limit off
    holdingMaxFen: fenString.nullable(),
    transferInDailyMaxFen: fenString.nullable(),
    fundDailyQuotaFen: fenString.nullable(),
    /**
     * The most one request may move (a top-up, a withdrawal, a transfer-in, a redemption, a
     * payment, a reserve adjustment): larger amounts are refused at the edge. Default
     * 50,000,000.00 yuan: above any bank card's daily limit and any retail transfer, and
     * large enough for ops to fund the reserve in a few steps.
     */
    operationMaxFen: positiveFenString,
    /**
     * The most a wallet (a holder's, a merchant's) or a fund holding may reach by a credit.
     * Default 10,000,000,000.00 yuan: no retail wallet or holding comes near it, a merchant
     * withdraws its receipts long before, and it sits 8.8 times under BALANCE_MAX_LIMIT_FEN.
     */
    balanceMaxFen: positiveFenString.refine((fen) => fen <= BALANCE_MAX_LIMIT_FEN, `at most ${BALANCE_MAX_LIMIT_FEN} fen, so int64 cannot overflow`),
  }),
  security: z.strictObject({
    paymentPasswordMaxAttempts: positiveInt,
    paymentLockMs: positiveInt,
    tokenLifetimeMs: positiveInt,
    /** How long this process remembers a payment password it verified (a keyed HMAC); 0 never. */
    paymentVerifiedMemoryMs: z.number().int().min(0),
    /** How long a holder's routes may use a session this process read (src/db/readCache.ts); 0 never. */
    sessionMemoryMs: z.number().int().min(0),
    /**
     * How long a password check (payment or login) waits for the checks in flight to free an
     * attempt; after it, the attempts still held count as failed and lock.
     */
    paymentAttemptWaitMs: positiveInt,
    /** Wrong login passwords (sign-in and every other check of it, one count) before login-password checks lock. */
    loginPasswordMaxAttempts: positiveInt,
    loginLockMs: positiveInt,
    /** Password hashes (scrypt) per process: at most `concurrency` at once and `queueMax` waiting; beyond, a 503. */
    passwordHashing: z.strictObject({ concurrency: positiveInt, queueMax: z.number().int().min(0) }),
    /**
     * Requests allowed per window: sign-in per client address and login id, and per client
     * address whatever the login id; payment-password requests per user.
     */
    rateLimits: z.strictObject({ login: rateLimit, loginPerAddress: rateLimit, paymentPassword: rateLimit }),
  }),
  redemption: z.strictObject({
    redeemedSharesEarnUntil: z.enum(['requestDay', 'dayBeforeTradeDate']),
  }),
  http: z.strictObject({
    port: z.number().int().min(0).max(65_535),
    bodyLimitBytes: positiveInt,
    /** On SIGTERM, how long requests in flight may take to finish before their connections are cut. */
    shutdownDrainMs: positiveInt,
  }),
  database: z.strictObject({
    dataDir: z.string().min(1),
    /** How old a money request's cached reads may be (src/db/readCache.ts); 0 reads every time. */
    readFreshnessMs: z.number().int().min(0),
    /** How long an instant redemption may use a holder's fund and fold state this process read. */
    holdingMemoryMs: z.number().int().min(0),
    // FerretDB holds a PostgreSQL connection per statement of an update command until the
    // command ends, and deadlocks past its pool (architecture.md, defect 3): the sizes below
    // keep every process under it, and the embedded FerretDB's pool is sized from them.
    /** Connections each process's driver opens at most. */
    driverPoolSizeMax: positiveInt,
    /** Statements one update command carries at most. */
    updateStatementsMax: positiveInt,
    /** Processes (API and workers) sharing one embedded FerretDB. */
    processesMax: positiveInt,
    /** Group commit (src/db/groupCommit.ts): commands in flight per collection, statements per command. */
    groupCommit: z.strictObject({ commandsInFlightMax: positiveInt, statementsMax: positiveInt }),
  }).refine((database) => database.groupCommit.statementsMax <= database.updateStatementsMax, {
    path: ['groupCommit', 'statementsMax'],
    message: 'expected at most database.updateStatementsMax',
  }),
  jobs: z.strictObject({
    processEveryMs: positiveInt,
    /** A pending operation untouched this long is taken over by the recovery job. */
    recoverAfterMs: positiveInt,
    lockLifetimeMs: positiveInt,
    /** On SIGTERM, how long running jobs may take to stop before their locks are released anyway. */
    stopWaitMs: positiveInt,
    /** Names of the jobs this process runs (e.g. dedicated accrual workers); null runs them all. */
    only: z.array(z.string().min(1)).nullable(),
  }),
  events: z.strictObject({
    /** How often each process copies filed events into the event log (src/events/log.ts). */
    relayEveryMs: positiveInt,
  }),
  webhooks: z
    .strictObject({
      /** How often each process looks for endpoints with events to send (src/webhooks/delivery.ts). */
      deliverEveryMs: positiveInt,
      /** A delivery not answered in this time failed (and is tried again). */
      timeoutMs: positiveInt,
      /** Waits after the 1st, 2nd, ... failed attempt at an event; the last repeats. */
      retryDelaysMs: z.array(positiveInt).min(1),
      /** An event is tried until it is this old, then recorded as failed (3 days). */
      retryWindowMs: positiveInt,
      /** A worker's hold on an endpoint, renewed at half-time while it delivers. */
      leaseMs: positiveInt,
    })
    .refine((webhooks) => webhooks.timeoutMs * 2 <= webhooks.leaseMs, {
      path: ['leaseMs'],
      message: 'expected at least twice webhooks.timeoutMs: a lease renewed at half-time must outlive one delivery',
    }),
  accrual: z.strictObject({
    /** Hash buckets of the book; fixed for the life of a fund's book (records carry it). */
    partitions: z.number().int().min(1).max(256),
    batchSize: z.number().int().min(1).max(5_000),
    /** A throttle that spares the database for other work; 0 runs flat out. */
    pauseBetweenBatchesMs: z.number().int().min(0),
    /** How often the coordinator looks for a day to open (Agenda interval text). */
    checkEvery: z.string().min(1),
    /**
     * A day of at most this many holders (the day before's, plus the share changes filed under
     * the day) is accrued by the coordinator itself, without partition jobs; 0: always jobs.
     */
    inlineHoldersMax: z.number().int().min(0),
    /** Partitions one process accrues at once when it runs a whole day (coordinator, CLI). */
    inlinePartitionsAtOnce: z.number().int().min(1).max(16),
  }),
  reserve: z.strictObject({
    name: z.string().regex(/^[a-z0-9-]{1,32}$/, 'expected 1 to 32 of a-z 0-9 -'),
    /** Sub-balances of the liquidity reserve: concurrent instant redemptions spread over them. */
    shards: z.number().int().min(1).max(64),
    /** A warning (log, report) when available falls below this share of the size. */
    lowWaterPercent: z.number().int().min(0).max(100),
    /** The most an API process leases from one shard at a time (src/reserve/leases.ts). */
    leaseMaxFen: fenString,
    /** How long a lease gives advances; it closes once its requests in flight are done. */
    leaseLifetimeMs: positiveInt,
  }),
  planning: z.strictObject({
    /** Days of flow history the reserve plan reads (src/planning/plan.ts). */
    historyDays: z.number().int().min(7).max(1096),
    /** The share of days the forecast's interval should hold, in percent. */
    coveragePercent: z.number().gt(0).lt(100),
    /** API processes the simulation gives each their own leases, as the service runs them. */
    apiProcesses: z.number().int().min(1).max(64),
    /** The alert compares the reserve with the forecast's upper band over this many trading days. */
    alertTradingDays: z.number().int().min(1).max(30),
    /** How often the alert looks (Agenda interval text). */
    checkEvery: z.string().min(1),
    /** Shopping festivals the forecast knows, by month and day. */
    festivals: z.array(z.strictObject({ name: z.string().min(1).max(32), monthDay: z.string().regex(/^(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/, 'expected MM-dd') })).max(24),
    /** Days of the month salaries are paid (the working day before, when one falls on a day off). */
    paydays: z.array(z.number().int().min(1).max(31)).max(8),
  }),
  clock: z.strictObject({
    /**
     * Moves "now" by this much in every context built from this config, so a chaos run can
     * cross Beijing midnight. Refused in production, where it would book money on wrong days.
     */
    offsetMs: z
      .number()
      .int()
      .refine((offsetMs) => offsetMs === 0 || process.env.NODE_ENV !== 'production', 'a clock offset is for tests and chaos runs: refused when NODE_ENV=production'),
    /**
     * The processes of a service run on the offset stored in the database (the sandbox's test
     * clock) and follow its moves within a second, instead of offsetMs: a chaos run shifts the
     * clock of processes already started. Refused in production, as the offset is.
     */
    followStored: z
      .boolean()
      .refine((follow) => !follow || process.env.NODE_ENV !== 'production', 'a stored clock is for tests and chaos runs: refused when NODE_ENV=production'),
  }),
  autoSweep: z.strictObject({
    /** Local time (config zone) of the early-morning sweep job. */
    runAt: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'expected HH:mm'),
  }),
});

type DeepReadonly<T> = T extends readonly (infer Item)[]
  ? readonly DeepReadonly<Item>[]
  : T extends object
    ? { readonly [Key in keyof T]: DeepReadonly<T[Key]> }
    : T;

export type AppConfig = DeepReadonly<z.output<typeof configSchema>>;
export type FundConfig = AppConfig['funds'][number];

/**
 * Validates raw settings (by default what the `config` package loaded) into a
 * deeply frozen AppConfig. Throws one Error naming every bad key path, e.g.
 * "config: cutoff: expected HH:mm".
 */
export function loadConfig(raw: unknown = config.util.toObject()): AppConfig {
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    throw new Error(`config: ${result.error.issues.map(describeIssue).join('; ')}`);
  }
  return deepFreeze(result.data);
}

let cachedConfig: AppConfig | undefined;

/** The service's settings, validated on first use. */
export function appConfig(): AppConfig {
  cachedConfig ??= loadConfig();
  return cachedConfig;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const keyPath = issue.path
    .map((key, index) => (typeof key === 'number' ? `[${key}]` : `${index === 0 ? '' : '.'}${String(key)}`))
    .join('');
  return `${keyPath || '(root)'}: ${issue.message}`;
}

function deepFreeze<T>(value: T): DeepReadonly<T> {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value as DeepReadonly<T>;
}
