import request from 'supertest';
import { relayAll } from '../../src/events/log.ts';
import { eventSchema } from '../../src/events/routes.ts';
import '../../src/eventSources.ts';
import { withoutBeijingTwins, type Holder, type TestApp } from './api.ts';

export interface ReadEvent {
  id: string;
  type: string;
  holderId: string | null;
  createdAt: string;
  data: Record<string, { id?: string; status?: string } & Record<string, unknown>>;
}

/** Relays what is due, then reads every page of the holder's events. */
export async function eventsOf(t: TestApp, holder: Pick<Holder, 'auth'>, query = ''): Promise<ReadEvent[]> {
  await relayAll();
  const events: ReadEvent[] = [];
  let after = '';
  for (;;) {
    const page = await request(t.app).get(`/v1/me/events?limit=2${query}${after && `&after=${after}`}`).set(holder.auth).expect(200);
    // As documented: the same schema the OpenAPI document gives the events and the webhooks.
    for (const event of page.body.events) eventSchema.parse(withoutBeijingTwins(event));
    events.push(...page.body.events);
    if (page.body.events.length === 0) return events;
    after = page.body.next;
  }
}

export const typesOf = (events: ReadEvent[]) => events.map((event) => event.type);
