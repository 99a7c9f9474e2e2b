/**
 * How a change files its event: in the very update that makes the change, an entry is pushed
 * onto the changed document's `outbox` and the document is marked due (`eventsDue`, found by
 * equality). The relay (src/events/log.ts) appends the entries to the event log, then clears
 * them by a compare-and-set on `outboxToken`, which every push renews: an entry pushed while
 * the relay worked keeps the document due. A change that does not stand files nothing; a
 * crash before the relay delays the event, never loses it.
 */
import { Schema } from 'mongoose';
import { newId } from '../ids.ts';
import type { EventType } from './catalogue.ts';

export interface EventDraft {
  /** Names the change: the log keeps one event per key. */
  sourceKey: string;
  type: EventType | 'income.batch';
  userId: string | null;
  audience: string;
  at: Date;
  data: Record<string, unknown>;
}

/** The outbox paths of a schema that files events with its changes. */
export const outboxPaths = {
  outbox: { type: [Schema.Types.Mixed], default: undefined },
  eventsDue: { type: Boolean, default: undefined },
  outboxToken: { type: String, default: undefined },
};

export interface OutboxFields {
  outbox?: EventDraft[] | null;
  eventsDue?: boolean | null;
  outboxToken?: string | null;
}

/**
 * A holder's event, or ops' when there is no holder. `sourceKey` names the change when it can
 * happen only once (an operation reaching a status); a fresh id otherwise.
 */
export function eventDraft(type: EventType, userId: string | null, at: Date, data: Record<string, unknown>, sourceKey = newId('ev')): EventDraft {
  return { sourceKey, type, userId, audience: userId ?? 'ops', at, data };
}

/** The update that makes a change, with its events filed: one write, atomic on one document. */
export function withEvent<U extends { $set?: object; $push?: object; $inc?: object }>(update: U, filed: EventDraft | EventDraft[] | null): U {
  const drafts = [filed ?? []].flat();
  if (drafts.length === 0) return update;
  return {
    ...update,
    $set: { ...update.$set, eventsDue: true, outboxToken: newId('ob') },
    $push: { ...update.$push, outbox: drafts.length === 1 ? drafts[0] : { $each: drafts } },
  };
}

/** The outbox fields of a document inserted with its events: the insert is the change. */
export function filedOnInsert(drafts: EventDraft[]): Required<OutboxFields> {
  return { outbox: drafts, eventsDue: true, outboxToken: newId('ob') };
}
