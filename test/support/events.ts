import request from 'supertest';
import { relayEvents } from '../../src/events/log.ts';
import '../../src/events/sources.ts';
import type { Holder, TestApp } from './api.ts';

export interface ReadEvent {
  id: string;
  type: string;
  holderId: string | null;
  createdAt: string;
  data: Record<string, { id?: string; status?: string } & Record<string, unknown>>;
}

/** Relays what is due, then reads every page of the holder's events. */
export async function eventsOf(t: TestApp, holder: Pick<Holder, 'auth'>, query = ''): Promise<ReadEvent[]> {
  await relayEvents();
  const events: ReadEvent[] = [];
  let after = '';
  for (;;) {
    const page = await request(t.app).get(`/v1/me/events?limit=2${query}${after && `&after=${after}`}`).set(holder.auth).expect(200);
    events.push(...page.body.events);
    if (page.body.events.length === 0) return events;
    after = page.body.next;
  }
}

export const typesOf = (events: ReadEvent[]) => events.map((event) => event.type);
