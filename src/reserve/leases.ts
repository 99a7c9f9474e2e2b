/**
 * Reserve leases, the pre-allocated T+0 quota of the big wallet platforms: an API process
 * takes a slice of one shard with one guarded update, then gives advances out of it in
 * memory, so an instant redemption moves no shard. A lease is an operation (type
 * reserve_lease) with two shard legs: `lease` (available → leased) and `close` (the unused
 * rest back to available; the shard's outstanding takes what was used). Each redemption
 * names its lease when it is written, and its advance is a journal-only step (leased →
 * outstanding) written with its other steps. A lease closes on the sum of those: by its
 * owner when it has expired and its requests are done and settled (the owner knows the sum:
 * each grant was either committed or given back), or by anyone (recovery, settlement) once
 * it has been expired for jobs.recoverAfterMs, after checking each of its redemptions the
 * owner did not note as settled (see src/transfers/instant.ts), on the sum read back.
 */
import type { AppContext } from '../context.ts';
import { newSortableId } from '../ids.ts';
import { log } from '../log.ts';
import { finishMarks, type FinishedMark } from '../accounts/legs.ts';
import { recordStep, transition } from '../operations/journal.ts';
import { Operation, type OperationDocument } from '../operations/model.ts';
import { reloadOperation, startOperation } from '../operations/service.ts';
import { fail, type AdvanceMode } from '../operations/machine.ts';
import { driverCollection, rawCollection } from '../db/driver.ts';
import { retryOnWriteConflict } from '../db/writeConflict.ts';
import { groupInserts } from '../db/groupCommit.ts';
import { SharedFreshRead } from '../db/sharedRead.ts';
import { usageOf } from './leaseUsage.ts';
import { lookAtReserve } from './lowWater.ts';
import { LeaseNote } from './model.ts';
import { applyShardLeg, closeShardLeg, openReserve, reserveLedger } from './service.ts';

interface OpenLease {
  op: OperationDocument;
  reserveName: string;
  dueDate: string;
  remainingFen: bigint;
  /** Requests holding a grant of this lease. */
  inFlight: number;
  /** Requests that ended without settling their operation (an error): checked before the lease closes. */
  unsure: number;
  /** Operations settled by their requests, not yet noted in the database: their holders' marks. */
  settled: FinishedMark[];
  noteTimer?: NodeJS.Timeout;
  usableUntilMs: number;
  /** Another process began to close it (its owner looked dead or frozen): no more grants. */
  closedElsewhere: boolean;
}

/** An advance promised to one request out of a lease this process holds. */
export interface AdvanceGrant {
  /** Written on the operation before any money moves. */
  readonly stamp: { leaseId: string; reserveShard: string };
  /**
   * The holder's leg must be applied before this instant, or not at all: past it, another
   * process may close the lease without counting this advance.
   */
  readonly applyBeforeMs: number;
  /**
   * Read after the operation is written: false once another process began to close the lease.
   * Whoever closes it marks it before reading its redemptions, so one written after that read
   * finds the mark, and one written before it is seen, and checked, by the closer.
   */
  stillOpen(): Promise<boolean>;
  /** The advance was definitely not taken: its capacity goes back to the lease. */
  giveBack(): void;
  /** Ties the grant to the operation written with it. */
  bindTo(operation: Pick<OperationDocument, '_id' | 'userId'>): void;
  /**
   * The request is over: the lease may close once every grant is done. `settled`: the
   * operation written with it, if any, stands as it is (committed or rewritten as failed).
   */
  done(settled: boolean): void;
}

interface LeaseBook {
  leases: OpenLease[];
  /** One acquisition at a time per reserve and settle date; the others wait for it. */
  acquiring: Map<string, { amountFen: bigint; acquired: Promise<boolean> }>;
}

const books = new WeakMap<AppContext, LeaseBook>();
const noteInserts = groupInserts(rawCollection(LeaseNote));
const operations = driverCollection(Operation);
/** Settled operations a note holds at most, and how long one waits for more. */
const NOTE_IDS_MAX = 64;
const NOTE_DELAY_MS = 200;

function bookOf(ctx: AppContext): LeaseBook {
  let book = books.get(ctx);
  if (!book) books.set(ctx, (book = { leases: [], acquiring: new Map() }));
  return book;
}

/**
 * What a lease knows of the redemptions it advances, told by their owner (src/transfers/instant.ts
 * registers it; transfers sit above the reserve): the holder's mark a settled one leaves, and
 * the check of each one its owner did not note, before anyone but its owner closes the lease.
 */
export interface LeaseRedemptions {
  markOf(operation: Pick<OperationDocument, '_id' | 'userId'>): FinishedMark;
  /** Returns the holders' marks of the redemptions that stand; the others never will. */
  verify(ctx: AppContext, leaseId: string): Promise<FinishedMark[]>;
}

let redemptions: LeaseRedemptions | undefined;

export function registerLeaseRedemptions(registered: LeaseRedemptions): void {
  redemptions = registered;
}

function leaseRedemptions(): LeaseRedemptions {
  if (!redemptions) throw new Error('no lease redemptions registered: load src/transfers/instant.ts');
  return redemptions;
}

const GRANT_ATTEMPTS_MAX = 3;

/**
 * Promises `amountFen` of advance for a redemption settling on `dueDate`, out of a lease of
 * this process, leasing a new slice when none can cover it. Null: no shard can.
 */
export async function grantAdvance(ctx: AppContext, amountFen: bigint, dueDate: string): Promise<AdvanceGrant | null> {
  const book = bookOf(ctx);
  for (let attempt = 0; attempt < GRANT_ATTEMPTS_MAX; attempt++) {
    const lease = usableLease(ctx, book, amountFen, dueDate);
    if (lease && needsSuccessor(ctx, book, lease)) {
      // Leased ahead, in the background, so that no request waits for a lease to renew.
      acquireOnce(ctx, book, amountFen, dueDate).catch((error) => log.error({ err: error }, 'reserve lease renewal failed'));
    }
    if (lease) return grantFrom(ctx, lease, amountFen);
    if (!(await acquireOnce(ctx, book, amountFen, dueDate))) return null;
  }
  return null;
}

/** A lease is renewed ahead once three quarters of its life are over. */
export function isRenewalDue(nowMs: number, usableUntilMs: number, lifetimeMs: number): boolean {
  return nowMs >= usableUntilMs - lifetimeMs / 4;
}

function usableLease(ctx: AppContext, book: LeaseBook, amountFen: bigint, dueDate: string): OpenLease | undefined {
  const nowMs = ctx.clock.now().getTime();
  const reserveName = ctx.config.reserve.name;
  return book.leases.find(
    (lease) =>
      lease.reserveName === reserveName && lease.dueDate === dueDate && nowMs < lease.usableUntilMs && !lease.closedElsewhere && lease.remainingFen >= amountFen,
  );
}

/** Past three quarters of its life, with no later lease for the same reserve and settle date. */
function needsSuccessor(ctx: AppContext, book: LeaseBook, lease: OpenLease): boolean {
  if (!isRenewalDue(ctx.clock.now().getTime(), lease.usableUntilMs, ctx.config.reserve.leaseLifetimeMs)) return false;
  return !book.leases.some((other) => other.reserveName === lease.reserveName && other.dueDate === lease.dueDate && other.usableUntilMs > lease.usableUntilMs);
}

// Every request of a lease reads it after writing its operation: shared, each answer read after its asking.
const leaseStates = new SharedFreshRead((leaseId: string) =>
  operations.findOne<Pick<OperationDocument, 'status' | 'leaseClosingAt'>>({ _id: leaseId }, { projection: { status: 1, leaseClosingAt: 1 } }),
);

function grantFrom(ctx: AppContext, lease: OpenLease, amountFen: bigint): AdvanceGrant {
  lease.remainingFen -= amountFen;
  lease.inFlight++;
  let bound: Pick<OperationDocument, '_id' | 'userId'> | undefined;
  let settled = false;
  return {
    stamp: { leaseId: lease.op._id, reserveShard: lease.op.reserveShard! },
    applyBeforeMs: lease.usableUntilMs + ctx.config.jobs.recoverAfterMs / 2,
    async stillOpen() {
      const stored = await leaseStates.read(lease.op._id);
      if (stored?.status === 'pending' && !stored.leaseClosingAt) return true;
      lease.closedElsewhere = true;
      return false;
    },
    giveBack() {
      if (!settled) lease.remainingFen += amountFen;
      settled = true;
    },
    bindTo(operation) {
      bound = operation;
    },
    done(operationSettled) {
      if (!operationSettled) lease.unsure++;
      else if (bound) noteSettled(lease, bound);
      bound = undefined;
      settled = true;
      lease.inFlight--;
    },
  };
}

/**
 * Leases a new slice, or waits for the acquisition already running for the same reserve and
 * settle date. False when no shard can cover `amountFen`: a running acquisition that failed for
 * a larger amount says nothing of a smaller one, which then tries on its own.
 */
async function acquireOnce(ctx: AppContext, book: LeaseBook, amountFen: bigint, dueDate: string): Promise<boolean> {
  const key = `${ctx.config.reserve.name}:${dueDate}`;
  const running = book.acquiring.get(key);
  if (running) return (await running.acquired) || running.amountFen > amountFen;
  const acquired = openLease(ctx, book, amountFen, dueDate).finally(() => book.acquiring.delete(key));
  book.acquiring.set(key, { amountFen, acquired });
  return acquired;
}

/**
 * Leases a slice of a shard that can cover the amount, trying them at random: at most half
 * of what the shard has available (but the amount at least), so other processes and ops'
 * decreases still find money there.
 */
async function openLease(ctx: AppContext, book: LeaseBook, amountFen: bigint, dueDate: string): Promise<boolean> {
  await closeIdleLeases(ctx, book);
  const shards = (await openReserve(ctx)).filter((shard) => shard.availableFen >= amountFen).sort(() => Math.random() - 0.5);
  for (const shard of shards) {
    const lease = await takeLease(ctx, shard._id, leaseSliceFen(shard.availableFen, ctx.config.reserve.leaseMaxFen, amountFen), dueDate);
    if (lease) {
      book.leases.push(lease);
      void lookAtReserve(ctx); // in the background: no request waits for it
      return true;
    }
  }
  return false;
}

/**
 * The slice a lease takes of a shard with `availableFen` (which covers `amountFen`): at most
 * half of it, and at most `leaseMaxFen`, but the amount at least.
 */
export function leaseSliceFen(availableFen: bigint, leaseMaxFen: bigint, amountFen: bigint): bigint {
  const halfFen = availableFen / 2n;
  const sliceFen = halfFen < leaseMaxFen ? halfFen : leaseMaxFen;
  return sliceFen > amountFen ? sliceFen : amountFen;
}

async function takeLease(ctx: AppContext, shard: string, sizeFen: bigint, dueDate: string): Promise<OpenLease | null> {
  const at = ctx.clock.now();
  const reserveName = ctx.config.reserve.name;
  const leaseExpiresAt = new Date(at.getTime() + ctx.config.reserve.leaseLifetimeMs);
  const { operation } = await startOperation(
    {
      userId: `reserve:${reserveName}`,
      idempotencyKey: newSortableId('lease'),
      request: { shard, sizeFen, dueDate },
      type: 'reserve_lease',
      amountFen: sizeFen,
      dueDate,
      reserveShard: shard,
      leaseExpiresAt,
    },
    at,
  );
  if (!(await applyShardLeg(ctx, operation, { step: 'lease', shard, availableFen: -sizeFen, leasedFen: sizeFen, outstandingFen: 0n, postings: leasePostings(operation) }))) {
    await fail(ctx, operation, 'reserve_available_insufficient'); // another process took it first
    return null;
  }
  const usableUntilMs = leaseExpiresAt.getTime();
  return { op: operation, reserveName, dueDate, remainingFen: sizeFen, inFlight: 0, unsure: 0, settled: [], usableUntilMs, closedElsewhere: false };
}

const leasePostings = (lease: OperationDocument) => [
  { account: reserveLedger.available(lease.reserveShard!), amountFen: -lease.amountFen },
  { account: reserveLedger.leased(lease.reserveShard!), amountFen: lease.amountFen },
];

function noteSettled(lease: OpenLease, operation: Pick<OperationDocument, '_id' | 'userId'>): void {
  lease.settled.push(leaseRedemptions().markOf(operation));
  if (lease.settled.length >= NOTE_IDS_MAX) void writeNote(lease);
  else lease.noteTimer ??= setTimeout(() => void writeNote(lease), NOTE_DELAY_MS).unref();
}

/**
 * Appends the settled operations not yet noted, whose holders' marks then finish: the note
 * vouches for them. A note lost to an error only means more to check, and marks kept longer:
 * false then, and the lease is left for a closer that checks them.
 */
async function writeNote(lease: OpenLease): Promise<boolean> {
  clearTimeout(lease.noteTimer);
  lease.noteTimer = undefined;
  const settled = lease.settled.splice(0);
  if (settled.length === 0) return true;
  try {
    await noteInserts(noteOf(lease.op._id, settled.map((mark) => mark.operationId)));
    finishMarks(settled);
    return true;
  } catch (error) {
    log.warn({ err: error, leaseId: lease.op._id }, 'lease note not written: its operations will be checked at close');
    lease.unsure++;
    return false;
  }
}

/** Due for the event relay from the start: the note is what makes its operations stand. */
const noteOf = (leaseId: string, operationIds: string[]) => ({
  _id: newSortableId('note'),
  leaseId,
  operationIds: operationIds.join(' '),
  eventsDue: true,
  outboxToken: newSortableId('ob'),
});

/** A closer's note of the operations it checked and found standing, before the lease closes. */
export async function noteStanding(leaseId: string, operationIds: string[]): Promise<void> {
  for (let start = 0; start < operationIds.length; start += NOTE_IDS_MAX) {
    await noteInserts(noteOf(leaseId, operationIds.slice(start, start + NOTE_IDS_MAX)));
  }
}

/**
 * The owner closes its expired leases whose requests are done, each settled; a lease with an
 * unsure operation waits for recovery, noted first so that recovery checks only the unsure.
 */
async function closeIdleLeases(ctx: AppContext, book: LeaseBook): Promise<void> {
  const nowMs = ctx.clock.now().getTime();
  const idle = book.leases.filter((lease) => nowMs >= lease.usableUntilMs && lease.inFlight === 0);
  book.leases = book.leases.filter((lease) => !idle.includes(lease));
  for (const lease of idle) {
    await writeNote(lease);
    if (lease.unsure > 0 || lease.closedElsewhere) continue;
    try {
      // As stored: the recovery job or settlement may have closed it meanwhile.
      await closeLease(ctx, await reloadOperation(lease.op._id), lease);
    } catch (error) {
      log.error({ err: error, leaseId: lease.op._id }, 'reserve lease failed to close; recovery will close it');
    }
  }
}

/** The recovery job's and settlement's way in: a lease closes once it is free for anyone to close. */
export async function advanceReserveLease(ctx: AppContext, op: OperationDocument, _mode: AdvanceMode): Promise<void> {
  if (op.status === 'pending') await closeLease(ctx, op, idleOwnLease(ctx, op._id));
}

/** True once the lease an instant redemption came out of is closed (closing it if it may). */
export async function leaseClosed(ctx: AppContext, leaseId: string): Promise<boolean> {
  const lease = await reloadOperation(leaseId);
  if (lease.status === 'pending') await advanceReserveLease(ctx, lease, 'request');
  return (await reloadOperation(leaseId)).status === 'completed';
}

/** The lease if this process holds it, expired, with every request of it done and settled. */
function idleOwnLease(ctx: AppContext, leaseId: string): OpenLease | undefined {
  const lease = bookOf(ctx).leases.find((open) => open.op._id === leaseId);
  const idle = lease !== undefined && lease.inFlight === 0 && lease.unsure === 0 && ctx.clock.now().getTime() >= lease.usableUntilMs;
  return idle ? lease : undefined;
}

/**
 * Closes a lease: what its redemptions advanced stays out (leased → outstanding, by their
 * journal-only `advance` steps), the rest goes back to available. Its owner, idle, knows what
 * its grants advanced (each one was committed or given back); anyone else waits until no
 * owner could still be applying an advance, checks the redemptions, and reads the advances
 * back (a lease's operations, read whole, were an eighth of the database's work under load).
 */
async function closeLease(ctx: AppContext, op: OperationDocument, idleOwned: OpenLease | undefined): Promise<void> {
  if (op.status !== 'pending') return;
  const now = ctx.clock.now();
  if (!op.steps.includes('lease')) {
    // The shard may have lent it before a crash kept the operation from saying so; if not, it never will.
    if (await closeShardLeg(op, op.reserveShard!, 'lease')) return fail(ctx, op, 'interrupted');
    await recordStep(op, 'lease', leasePostings(op), now);
  }
  const freeForAllMs = op.leaseExpiresAt!.getTime() + ctx.config.jobs.recoverAfterMs;
  if (!idleOwned && now.getTime() < freeForAllMs) return;
  // Its owner's note of what its requests settled, written before it closes: the note is what
  // tells their success (src/transfers/events.ts), and a closed lease is never noted again.
  if (idleOwned && !(await writeNote(idleOwned))) return;
  if (!idleOwned) await markClosing(op, now);
  // Each of its redemptions either stands or never will: checked, unless its idle owner knows.
  const standing = idleOwned ? [] : await leaseRedemptions().verify(ctx, op._id);
  const usedFen = idleOwned ? idleOwned.op.amountFen - idleOwned.remainingFen : (await usageOf(op._id)).usedFen;
  const unusedFen = op.amountFen - usedFen;
  const shard = op.reserveShard!;
  const postings = unusedFen === 0n ? [] : [
    { account: reserveLedger.leased(shard), amountFen: -unusedFen },
    { account: reserveLedger.available(shard), amountFen: unusedFen },
  ];
  const closed = await applyShardLeg(ctx, op, { step: 'close', shard, availableFen: unusedFen, leasedFen: -op.amountFen, outstandingFen: usedFen, postings });
  if (!closed) throw new Error(`${op._id}: close of ${op.amountFen} fen refused by ${shard}`);
  if (await transition(op, ['pending'], 'completed', now)) finishMarks(standing);
}

/** Before the redemptions are read: one written after that read finds the mark (AdvanceGrant.stillOpen). */
async function markClosing(op: OperationDocument, now: Date): Promise<void> {
  if (op.leaseClosingAt) return;
  await retryOnWriteConflict(() => Operation.updateOne({ _id: op._id, status: 'pending', leaseClosingAt: null }, { $set: { leaseClosingAt: now } }));
}
