/**
 * Ops events for states that cross a threshold (docs/events.md): the reserve's low water, a
 * reconciliation finding breaks, the holiday schedule ending. Whoever looks (a job, a lease
 * opening) reports what it sees; the alert's state document moves only when what it sees
 * differs from what is stored, by a compare-and-set that files the crossing's event in the
 * same update. Two checkers seeing one crossing at once file one event (the second finds the
 * status moved); a value that flaps files one event per crossing; a look that sees nothing new
 * writes nothing.
 */
import { isDuplicateKey, retryOnWriteConflict } from '../db/writeConflict.ts';
import { registerEventSource } from '../events/log.ts';
import { eventDraft, withEvent, type EventDraft } from '../events/outbox.ts';
import type { EventType } from '../events/catalogue.ts';
import { AlertState, type AlertStateDocument, type AlertStatus } from './model.ts';

export interface AlertEvents {
  /** Filed when the alert starts firing. */
  firing: EventType;
  /** Filed when it stops, if that is an event of its own. */
  recovered?: EventType;
}

/**
 * Reports what a checker sees of alert `key` at `at` (`data`: the figures, as the events
 * carry them). Returns whether this call moved the state, filing its event.
 */
export async function observeAlert(key: string, firing: boolean, events: AlertEvents, at: Date, data: Record<string, unknown>): Promise<boolean> {
  const state = await alertState(key);
  const status: AlertStatus = firing ? 'firing' : 'ok';
  if (state.status === status) return false;
  const firings = state.firings + (firing ? 1 : 0);
  const type = firing ? events.firing : events.recovered;
  // Keyed by the crossing: a move that is retried or relayed twice is still one event.
  const draft: EventDraft | null = type ? eventDraft(type, null, at, data, `${key}:${type}:${firings}`) : null;
  const moved = await retryOnWriteConflict(() =>
    AlertState.updateOne({ _id: key, status: state.status, firings: state.firings }, withEvent({ $set: { status, firings, changedAt: at } }, draft)),
  );
  return moved.modifiedCount === 1;
}

/** The stored status, or null before anyone looked. */
export async function alertStatus(key: string): Promise<AlertStatus | null> {
  return (await AlertState.findById(key, { status: 1 }).lean<Pick<AlertStateDocument, 'status'>>())?.status ?? null;
}

/** The stored state, created `ok` on first look (racing creations: one insert wins, the others read it). */
async function alertState(key: string): Promise<AlertStateDocument> {
  const found = await AlertState.findById(key).lean<AlertStateDocument>();
  if (found) return found;
  try {
    await AlertState.create({ _id: key, status: 'ok' });
  } catch (error) {
    if (!isDuplicateKey(error)) throw error;
  }
  return (await AlertState.findById(key).lean<AlertStateDocument>())!;
}

registerEventSource({ name: 'alert-states', model: AlertState as never });
