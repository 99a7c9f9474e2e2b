/**
 * Which changes of an operation its holder is told of (docs/events.md):
 * - a transition that stands: accepted (awaiting confirmation or settlement), confirmed,
 *   settled, succeeded;
 * - a failure once the operation was announced or money had moved (a posting), or when it
 *   was decided after its request had ended without a final answer (by recovery: the request
 *   crashed, or answered 202 while the bank was silent; an instant one found interrupted);
 *   a request refused before anything moved has its answer and no event;
 * - an instant redemption or payment succeeds when it is noted as standing on its lease
 *   (src/reserve/leases.ts): its request writes no transition, so the note is the source;
 * - the morning sweep's transfer-ins are `auto_sweep.*` (nobody asked, so a refused one is
 *   told too), and confirmed like any other.
 */
import type { EventType } from '../events/catalogue.ts';
import { registerEventSource } from '../events/log.ts';
import { eventDraft, type EventDraft } from '../events/outbox.ts';
import { registerTransitionEvents } from '../operations/journal.ts';
import { Operation, type OperationDocument, type OperationStatus } from '../operations/model.ts';
import { operationView } from '../operations/service.ts';
import { LeaseNote, type LeaseNoteDocument } from '../reserve/model.ts';

const INSTANT_TYPES: OperationDocument['type'][] = ['instant_redemption', 'payment'];
const isSweep = (op: OperationDocument) => op.type === 'transfer_in' && op.idempotencyKey.startsWith('auto-sweep:');

function eventTypeOf(op: OperationDocument, from: OperationStatus[], announceFailure: boolean): EventType | null {
  // Money moved: a posting (a fund's quota taken and given back is a step that moves none).
  const moved = op.postings.length > 0 || from.some((status) => status !== 'pending');
  switch (`${op.type}:${op.status}`) {
    case 'transfer_in:awaiting_confirmation':
      return isSweep(op) ? 'auto_sweep.succeeded' : 'transfer_in.accepted';
    case 'transfer_in:completed':
      return 'transfer_in.confirmed';
    case 'transfer_in:failed':
      if (isSweep(op) && !moved) return 'auto_sweep.failed';
      return moved || announceFailure ? 'transfer_in.failed' : null;
    case 'redemption:awaiting_settlement':
      return 'redemption.accepted';
    case 'redemption:completed':
      return 'redemption.settled';
    case 'top_up:completed':
    case 'withdrawal:completed':
      return `${op.type}.succeeded` as EventType;
    case 'redemption:failed':
    case 'top_up:failed':
    case 'withdrawal:failed':
      return moved || announceFailure ? (`${op.type}.failed` as EventType) : null;
    case 'instant_redemption:failed':
    case 'payment:failed':
      return announceFailure ? (`${op.type}.failed` as EventType) : null;
    default:
      return null; // the reserve's own operations, and an instant one repaid to its reserve
  }
}

/** An operation's status is reached once: the key makes its event one, however often relayed. */
const operationEvent = (type: EventType, op: OperationDocument, at: Date): EventDraft =>
  eventDraft(type, op.userId, at, { operation: operationView(op) }, `${op._id}:${type}`);

registerTransitionEvents((op, from, announceFailure) => {
  const type = eventTypeOf(op, from, announceFailure);
  return type ? operationEvent(type, op, op.updatedAt) : null;
});

registerEventSource({ name: 'operations', model: Operation as never });

/**
 * A lease note lists operations whose requests ended: each one that did not fail stands (a
 * noted operation is never voided later) and is told as succeeded, once (its key), as it
 * stands now.
 */
registerEventSource({
  name: 'lease-notes',
  model: LeaseNote as never,
  async draftsOf(note) {
    const drafts: EventDraft[] = [];
    for (const operationId of (note as unknown as LeaseNoteDocument).operationIds.split(' ')) {
      const op = await Operation.findById(operationId).lean<OperationDocument>();
      if (op && INSTANT_TYPES.includes(op.type) && op.status !== 'failed') drafts.push(operationEvent(`${op.type}.succeeded` as EventType, op, op.createdAt));
    }
    return drafts;
  },
});
