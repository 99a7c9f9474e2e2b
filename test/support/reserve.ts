import { formatYuan } from '../../src/money/fen.ts';
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

/** Moves the reserve by `amountFen` (either way), in adjustments the operation maximum allows. */
export async function adjustReserveBy(t: TestApp, ops: Holder, amountFen: bigint): Promise<void> {
  const direction = amountFen < 0n ? 'decrease' : 'increase';
  for (let leftFen = amountFen < 0n ? -amountFen : amountFen; leftFen > 0n; ) {
    const stepFen = leftFen < t.ctx.config.limits.operationMaxFen ? leftFen : t.ctx.config.limits.operationMaxFen;
    await adjustReserve(t, ops, formatYuan(stepFen), direction).expect(201);
    leftFen -= stepFen;
  }
}
