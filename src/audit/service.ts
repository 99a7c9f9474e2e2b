import os from 'node:os';
import { DateTime } from 'luxon';
import { User } from '../auth/model.ts';
import type { AppContext } from '../context.ts';
import { badRequest, DomainError } from '../errors.ts';
import { newSortableId } from '../ids.ts';
import { log } from '../log.ts';
import { AuditEntry, AuditOutcome, type AuditAction, type AuditEntryDocument, type AuditOutcomeDocument, type AuditOutcomeKind } from './model.ts';

/** Who does an ops action, and through what. */
export interface Actor {
  /** A user id, or `os:<name>`: the CLI run by someone with the database and no ops login given. */
  id: string;
  login: string | null;
  via: 'api' | 'cli';
  /** Signed in (the API), or the CLI's --as proven by its login password: who the two-person rule may count. */
  proven: boolean;
}

/** How an action ended, when it did not throw: a refusal it answered with, and what to keep of its result. */
export interface AuditResult {
  outcome?: AuditOutcomeKind;
  code?: string;
  detail?: string;
  result?: Record<string, unknown>;
}

/** The caller of an ops route: the signed-in user, with its login id for the reader. */
export async function apiActor(userId: string): Promise<Actor> {
  const user = await User.findById(userId, { loginId: 1 }).lean();
  return { id: userId, login: user?.loginId ?? null, via: 'api', proven: true };
}

/**
 * The person running the CLI: `--as <loginId>`, else a login named as the OS user, checked to
 * hold the ops role. `required: false` (grants, tokens, accrual runs: what the one holding the
 * database may always do) falls back to the OS account when no such ops login exists.
 */
export async function cliActor(asLogin: string | undefined, required: boolean, proof?: (loginId: string) => Promise<void>): Promise<Actor> {
  const osUser = os.userInfo().username;
  const loginId = asLogin ?? osUser;
  const user = await User.findOne({ loginId }, { _id: 1, roles: 1 }).lean();
  if (user?.roles.includes('ops')) {
    await proof?.(loginId);
    return { id: user._id, login: loginId, via: 'cli', proven: proof !== undefined };
  }
  if (asLogin === undefined && !required) return { id: `os:${osUser}`, login: null, via: 'cli', proven: false };
  throw new DomainError(
    'forbidden',
    user
      ? `${loginId} does not have the ops role: grant-ops first, or run as another ops user with --as <loginId>`
      : `No user ${loginId} to act as: run with --as <loginId> of an ops user (the default is the OS user name, ${osUser})`,
    {},
    { values: { loginId, osUser } },
  );
}

/**
 * Runs an ops action with its audit record. The entry (who, what, the request) is appended
 * before the action runs, so an action that happened always has one; its outcome is appended
 * after. A crash in between leaves the entry without an outcome, shown as `unknown`: the
 * reader checks the target (docs/ops-audit.md). No update is ever made: appends only.
 */
export async function audited<T>(
  ctx: AppContext,
  entry: { actor: Actor; action: AuditAction; target: string; request?: Record<string, unknown> },
  run: () => Promise<T>,
  resultOf: (value: T) => AuditResult = () => ({}),
): Promise<T> {
  const { actor, action, target, request = {} } = entry;
  const _id = newSortableId('aud');
  await AuditEntry.create({ _id, at: ctx.clock.now(), actorId: actor.id, actorLogin: actor.login, via: actor.via, action, target, request });
  let value: T;
  try {
    value = await run();
  } catch (error) {
    const refusal = error instanceof DomainError;
    await settle(ctx, _id, {
      outcome: refusal ? 'refused' : 'failed',
      code: refusal ? error.code : null,
      detail: refusal ? error.detail : (error as Error).message,
    });
    throw error;
  }
  const { outcome = 'done', code = null, detail = null, result = {} } = resultOf(value);
  await settle(ctx, _id, { outcome, code, detail, result });
  return value;
}

/** The outcome, appended once by the entry's id. Its loss is logged, not the action's failure: the entry says it began. */
async function settle(ctx: AppContext, _id: string, outcome: Omit<AuditOutcomeDocument, '_id' | 'at' | 'result'> & { result?: Record<string, unknown> }) {
  try {
    await AuditOutcome.create({ _id, at: ctx.clock.now(), ...outcome });
  } catch (error) {
    log.error({ err: error, auditId: _id }, 'audit outcome not recorded: the entry shows it as unknown');
  }
}

/** A reserve adjustment answers (not throws) its refusal: the answer's status and problem say how it ended. */
export function reserveAdjustmentAudit(answer: { status: number; body: unknown }): AuditResult {
  const body = answer.body as { code?: string; detail?: string; id?: string; status?: string };
  if (answer.status >= 400) return { outcome: 'refused', code: body.code, detail: body.detail };
  return { result: { operationId: body.id ?? null, status: body.status ?? null } };
}

export interface AuditFilter {
  /** A user id, a login id or `os:<name>`. */
  actor?: string;
  action?: AuditAction;
  /** Business dates (Beijing): entries from 00:00 of `from` to 24:00 of `to`. */
  from?: string;
  to?: string;
}

/** Newest first, by id; the cursor is the last id seen, so pages do not shift as entries arrive. */
export async function listAudit(ctx: AppContext, only: AuditFilter, limit: number, cursor?: string) {
  const { actor, action, from, to } = only;
  if (from && to && from > to) throw badRequest('from must not be after to');
  const startOf = (date: string) => DateTime.fromISO(date, { zone: ctx.config.zone }).toJSDate();
  const at = { ...(from ? { $gte: startOf(from) } : {}), ...(to ? { $lt: startOf(ctx.calendar.addCalendarDays(to, 1)) } : {}) };
  const filter = {
    ...(actor ? { $or: [{ actorId: actor }, { actorLogin: actor }] } : {}),
    ...(action ? { action } : {}),
    ...(from || to ? { at } : {}),
    ...(cursor ? { _id: { $lt: decodeCursor(cursor) } } : {}),
  };
  const entries = await AuditEntry.find(filter).sort({ _id: -1 }).limit(limit + 1).lean<AuditEntryDocument[]>();
  const page = entries.slice(0, limit);
  // One lookup by _id each: FerretDB serves equality from an index, and runs `$in` after a full scan.
  const outcomes = await Promise.all(page.map((entry) => AuditOutcome.findById(entry._id).lean<AuditOutcomeDocument>()));
  const last = page.at(-1);
  return {
    items: page.map((entry, index) => auditView(entry, outcomes[index] ?? null)),
    nextCursor: entries.length > limit && last ? Buffer.from(last._id).toString('base64url') : null,
  };
}

function auditView(entry: AuditEntryDocument, outcome: AuditOutcomeDocument | null) {
  return {
    id: entry._id,
    at: entry.at.toISOString(),
    actor: { userId: entry.actorId, loginId: entry.actorLogin ?? null, via: entry.via },
    action: entry.action,
    target: entry.target,
    request: entry.request,
    /** unknown: no outcome was recorded (the process stopped in between): check the target. */
    outcome: outcome?.outcome ?? 'unknown',
    code: outcome?.code ?? null,
    detail: outcome?.detail ?? null,
    result: outcome?.result ?? null,
    settledAt: outcome?.at.toISOString() ?? null,
  };
}

function decodeCursor(cursor: string): string {
  const entryId = Buffer.from(cursor, 'base64url').toString();
  if (!/^aud_[0-9a-z]{13}[0-9a-f]{12}$/.test(entryId)) throw new DomainError('invalid_cursor', 'The cursor is not one this service gave out');
  return entryId;
}
