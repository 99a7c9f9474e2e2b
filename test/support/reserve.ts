import request from 'supertest';
import type { FaultPoints } from '../../src/context.ts';
import { ReserveShard, type ReserveShardDocument } from '../../src/reserve/model.ts';
import { uniqueId } from './database.ts';
import { idempotencyKey, type Holder, type TestApp } from './api.ts';

/** A reserve of the test's own (config reserve.name), so tests do not share its balance. */
export function useOwnReserve(t: TestApp): string {
  const name = uniqueId('r').toLowerCase().replace(/[^a-z0-9-]/g, '');
  t.ctx.config = { ...t.ctx.config, reserve: { ...t.ctx.config.reserve, name } };
  return name;
}

export function adjustReserve(t: TestApp, ops: Holder, amount: string, direction: 'increase' | 'decrease') {
  return request(t.app).post('/v1/ops/reserve/adjustments').set(ops.auth).set('Idempotency-Key', idempotencyKey()).send({ amount, direction });
}

export async function shardsOf(reserveName: string): Promise<ReserveShardDocument[]> {
  return ReserveShard.find({ reserveName }).lean<ReserveShardDocument[]>();
}

export class InjectedFault extends Error {}

/** Fault points a test arms: the next pass through an armed point throws, once. */
export class ArmedFaults implements FaultPoints {
  readonly #armed = new Set<string>();

  arm(point: string): void {
    this.#armed.add(point);
  }

  async hit(point: string): Promise<void> {
    if (this.#armed.delete(point)) throw new InjectedFault(`injected fault at ${point}`);
  }
}

/** Fault points a test holds: a request reaching a held point waits there until released (a frozen process). */
export class HeldFaults implements FaultPoints {
  readonly #held = new Map<string, { reached: () => void; released: Promise<void> }>();

  /** Holds the next pass through `point`; resolves `reached` when a request arrives there. */
  hold(point: string): { reached: Promise<void>; release: () => void } {
    let release!: () => void;
    let reached!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const arrival = new Promise<void>((resolve) => (reached = resolve));
    this.#held.set(point, { reached, released });
    return { reached: arrival, release };
  }

  async hit(point: string): Promise<void> {
    const held = this.#held.get(point);
    if (!held) return;
    this.#held.delete(point);
    held.reached();
    await held.released;
  }
}
