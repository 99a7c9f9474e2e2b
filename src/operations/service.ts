import { createHash } from 'node:crypto';
import { rawCollection } from '../db/driver.ts';
import { groupInserts } from '../db/groupCommit.ts';
import { retryOnWriteConflict } from '../db/writeConflict.ts';
import { DomainError, notFound } from '../errors.ts';
import { newSortableId } from '../ids.ts';
import { formatYuan, type Fen } from '../money/fen.ts';
import { faultPoint } from '../faults.ts';
import type { RenderedAnswer } from './answers.ts';
import { noteCreation } from './marks.ts';
import { Operation, type OperationDocument, type OperationStatus, type OperationType } from './model.ts';

export interface OperationRequest {
  userId: string;
  idempotencyKey: string;
  /** What the caller asked, canonicalised: the same key with another request is refused. */
  request: Record<string, unknown>;
  type: OperationType;
  amountFen: Fen;
  fundCode?: string | null;
  channel?: string | null;
  bankCardId?: string | null;
  tradeDate?: string | null;
  dueDate?: string | null;
  sharesEffectDate?: string | null;
  sharesEffectKey?: string | null;
  merchantId?: string | null;
  merchantName?: string | null;
  direction?: 'increase' | 'decrease' | null;
  leaseId?: string | null;
  reserveShard?: string | null;
  leaseExpiresAt?: Date | null;
  /** A money-out request's security epochs when it was checked: its legs are refused once they move on. */
  securityEpochs?: { sessions: number; paymentPassword: number } | null;
}

// Concurrent requests' operations are inserted grouped (see db/groupCommit.ts).
const operationInserts = groupInserts(rawCollection(Operation));

export interface StartedOperation {
  operation: OperationDocument;
  /** True when the key was seen before: nothing new may move. */
  replayed: boolean;
}

/**
 * Writes the operation before any money moves: pending, or with the outcome `writtenAs`
 * gives it (an instant redemption, whose holder's leg commits it). Its unique (userId,
 * idempotencyKey) makes a replay find the first operation instead of creating a second one.
 */
export async function startOperation(
  request: OperationRequest,
  at: Date,
  writtenAs?: (operation: OperationDocument) => Record<string, unknown>,
): Promise<StartedOperation> {
  const requestHash = hashRequest(request.type, request.request);
  const { request: _request, ...fields } = request;
  const pending = { _id: newSortableId('op'), ...fields, requestHash, status: 'pending' as const, steps: [], postings: [], createdAt: at, updatedAt: at };
  const operation = writtenAs ? { ...pending, ...writtenAs(pending as unknown as OperationDocument) } : pending;
  const created = asStored(operation);
  noteCreation(created);
  await faultPoint('operation:before-insert');
  if (await operationInserts(created)) return { operation: created, replayed: false };
  const first = await Operation.findOne({ userId: request.userId, idempotencyKey: request.idempotencyKey }).lean<OperationDocument>();
  if (!first) throw new Error('duplicate idempotency key without an operation');
  if (first.requestHash !== requestHash) throw idempotencyKeyReused();
  return { operation: first, replayed: true };
}

/** Top-level fields whose schema default is null, and every field the schema knows. */
const SCHEMA_PATHS = Object.entries(Operation.schema.paths).filter(([path]) => !path.includes('.'));
const NULL_DEFAULTS = Object.fromEntries(SCHEMA_PATHS.filter(([, type]) => (type.options as { default?: unknown }).default === null).map(([path]) => [path, null]));
const KNOWN_FIELDS = new Set(SCHEMA_PATHS.map(([path]) => path));

/**
 * The operation with its schema defaults, as a lean read returns it. Built by hand: a
 * Mongoose document (casting every posting into a subdocument, then validating) was a sixth
 * of a request's CPU; the types already hold what validation would check, and a field the
 * schema does not know is refused as Mongoose's strict mode would.
 */
function asStored(operation: Record<string, unknown>): OperationDocument {
  const unknown = Object.keys(operation).filter((field) => !KNOWN_FIELDS.has(field));
  if (unknown.length > 0) throw new Error(`operation fields not in the schema: ${unknown.join(', ')}`);
  return { ...NULL_DEFAULTS, ...operation } as unknown as OperationDocument;
}

export async function rememberFirstResponse(operation: OperationDocument, answer: RenderedAnswer): Promise<void> {
  await retryOnWriteConflict(() =>
    Operation.updateOne({ _id: operation._id, response: null }, { $set: { response: { status: answer.status, body: answer.body } } }),
  );
}

export async function findOwnOperation(userId: string, operationId: string): Promise<OperationDocument> {
  const operation = await Operation.findOne({ _id: operationId, userId }).lean<OperationDocument>();
  if (!operation) throw notFound('Operation', { key: 'not_found_operation' });
  return operation;
}

export async function reloadOperation(operationId: string): Promise<OperationDocument> {
  return (await Operation.findById(operationId).lean<OperationDocument>())!;
}

export interface OperationPage {
  items: OperationDocument[];
  nextCursor: string | null;
}

/** Which of a holder's operations a history page shows: all, or by type, status and when created. */
export interface HistoryFilter {
  type?: OperationType;
  status?: OperationStatus;
  createdFrom?: Date;
  createdBefore?: Date;
}

/**
 * Newest first, by id (ids sort in creation order). The cursor is the last id seen, so pages
 * do not shift when new operations arrive. FerretDB filters on userId in PostgreSQL and sorts
 * (and filters the rest) in memory: the history of one holder is small enough for that.
 */
export async function listOperations(userId: string, limit: number, cursor?: string, only: HistoryFilter = {}): Promise<OperationPage> {
  const { type, status, createdFrom, createdBefore } = only;
  const createdAt = { ...(createdFrom ? { $gte: createdFrom } : {}), ...(createdBefore ? { $lt: createdBefore } : {}) };
  const filter = {
    userId,
    ...(type ? { type } : {}),
    ...(status ? { status } : {}),
    ...(createdFrom || createdBefore ? { createdAt } : {}),
    ...(cursor ? { _id: { $lt: decodeCursor(cursor) } } : {}),
  };
  const items = await Operation.find(filter).sort({ _id: -1 }).limit(limit + 1).lean<OperationDocument[]>();
  const page = items.slice(0, limit);
  const last = page.at(-1);
  return { items: page, nextCursor: items.length > limit && last ? Buffer.from(last._id).toString('base64url') : null };
}

export function operationView(operation: OperationDocument) {
  return {
    id: operation._id,
    type: operation.type,
    status: operation.status,
    amount: formatYuan(operation.amountFen),
    fundCode: operation.fundCode ?? null,
    channel: operation.channel ?? null,
    bankCardId: operation.bankCardId ?? null,
    tradeDate: operation.tradeDate ?? null,
    ...(operation.type === 'transfer_in' ? { confirmDate: operation.dueDate ?? null } : {}),
    ...(['redemption', 'instant_redemption', 'payment'].includes(operation.type) ? { settleDate: operation.dueDate ?? null } : {}),
    ...(operation.type === 'payment' ? { merchantId: operation.merchantId ?? null, merchantName: operation.merchantName ?? null } : {}),
    failure: operation.failure?.code ? { code: operation.failure.code, detail: operation.failure.detail } : null,
    createdAt: operation.createdAt.toISOString(),
    updatedAt: operation.updatedAt.toISOString(),
  };
}

function hashRequest(type: string, request: Record<string, unknown>): string {
  const canonical = JSON.stringify([type, Object.keys(request).sort().map((key) => [key, String(request[key])])]);
  return createHash('sha256').update(canonical).digest('hex');
}

function decodeCursor(cursor: string): string {
  const operationId = Buffer.from(cursor, 'base64url').toString();
  if (!/^op_[0-9a-z]{13}[0-9a-f]{12}$/.test(operationId)) {
    throw new DomainError('invalid_cursor', 'The cursor is not one this service gave out');
  }
  return operationId;
}

const idempotencyKeyReused = () =>
  new DomainError('idempotency_key_reused', 'This Idempotency-Key was already used with a different request');
