/**
 * The bank side fails: declines, silence before it records anything, and a lost answer after
 * it recorded the transfer. Requests answer honestly and the recovery job finishes the
 * operation, so no fen is created or lost.
 */
import assert from 'node:assert/strict';
import request from 'supertest';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SimulatedBankMode } from '../../src/bank/simulatedBank.ts';
import { SimulatedBankTransfer } from '../../src/bank/model.ts';
import { recoverStuckOperations } from '../../src/operations/recovery.ts';
import { balancesOf, idempotencyKey, newHolder, PAYMENT_PASSWORD, testApp, topUp, type Holder } from '../support/api.ts';

const { app, ctx, clock, bank } = testApp('2024-05-30T10:00:00+08:00');

async function withBank<T>(mode: SimulatedBankMode, action: () => Promise<T>): Promise<T> {
  bank.behaviour = { mode, delayMs: 0 };
  try {
    return await action();
  } finally {
    bank.behaviour = { mode: 'ok', delayMs: 0 };
  }
}

function sendTopUp(holder: Holder, amount: string, key = idempotencyKey()) {
  return request(app).post('/v1/me/top-ups').set(holder.auth).set('Idempotency-Key', key).send({ amount, bankCardId: holder.bankCardId });
}

function sendWithdrawal(holder: Holder, amount: string, key = idempotencyKey()) {
  return request(app)
    .post('/v1/me/withdrawals')
    .set(holder.auth)
    .set('Idempotency-Key', key)
    .send({ amount, bankCardId: holder.bankCardId, paymentPassword: PAYMENT_PASSWORD });
}

function sendTransferIn(holder: Holder, body: object) {
  return request(app).post('/v1/me/transfers-in').set(holder.auth).set('Idempotency-Key', idempotencyKey()).send(body);
}

async function afterRecoveryWindow(): Promise<void> {
  clock.advance(ctx.config.jobs.recoverAfterMs + 1000);
  await recoverStuckOperations(ctx);
}

const empty = { walletFen: 0n, sharesFen: 0n, subscribingFen: 0n, redeemingFen: 0n };

describe('bank failures and recovery', () => {
  it('a declined top-up moves nothing and is remembered for its key', async () => {
    const holder = await newHolder(app);
    const key = idempotencyKey();
    const declined = await withBank('decline', () => sendTopUp(holder, '10.00', key).expect(422));
    assert.equal(declined.body.code, 'bank_declined');
    assert.equal(declined.headers['content-type'], 'application/problem+json; charset=utf-8');
    const replayed = await sendTopUp(holder, '10.00', key).expect(422);
    assert.deepEqual(replayed.body, declined.body);
    assert.deepEqual(await balancesOf(holder.userId), empty);
  });

  it('a silent bank leaves the top-up pending; recovery finds no charge and fails it', async () => {
    const holder = await newHolder(app);
    const key = idempotencyKey();
    const pending = await withBank('unavailable', () => sendTopUp(holder, '10.00', key).expect(202));
    assert.equal(pending.body.operation.status, 'pending');
    const inProgress = await sendTopUp(holder, '10.00', key).expect(409);
    assert.equal(inProgress.body.code, 'request_in_progress');
    await afterRecoveryWindow();
    const operation = await request(app).get(`/v1/me/operations/${pending.body.operation.id}`).set(holder.auth).expect(200);
    assert.equal(operation.body.operation.status, 'failed');
    assert.equal(operation.body.operation.failure.code, 'bank_unavailable');
    assert.deepEqual(await balancesOf(holder.userId), empty);
  });

  it('a lost answer after the bank charged: recovery credits the wallet exactly once', async () => {
    const holder = await newHolder(app);
    const pending = await withBank('lostAnswer', () => sendTopUp(holder, '10.00').expect(202));
    await afterRecoveryWindow();
    await afterRecoveryWindow();
    const operation = await request(app).get(`/v1/me/operations/${pending.body.operation.id}`).set(holder.auth).expect(200);
    assert.equal(operation.body.operation.status, 'completed');
    assert.deepEqual(await balancesOf(holder.userId), { ...empty, walletFen: 1000n });
  });

  it('a card transfer-in charged while its answer was lost, then refused by recovery: the card money lands in the wallet', async () => {
    const holder = await newHolder(app);
    await topUp(app, holder, '20.00');
    const pending = await withBank('lostAnswer', () => sendTransferIn(holder, { amount: '10.00', channel: 'bank_card', bankCardId: holder.bankCardId, fundCode: 'YEB001' }).expect(202));
    // Meanwhile the holder moves her wallet into the other fund: the subscription can no longer be taken.
    await sendTransferIn(holder, { amount: '20.00', channel: 'wallet', fundCode: 'MMF002' }).expect(201);
    await afterRecoveryWindow();
    const operation = await request(app).get(`/v1/me/operations/${pending.body.operation.id}`).set(holder.auth).expect(200);
    assert.deepEqual([operation.body.operation.status, operation.body.operation.failure.code], ['failed', 'fund_switch_not_allowed']);
    assert.equal((await SimulatedBankTransfer.findById(`${pending.body.operation.id}:charge`).lean())?.outcome, 'succeeded');
    assert.deepEqual(await balancesOf(holder.userId), { ...empty, walletFen: 1000n, subscribingFen: 2000n });
  });

  it('a declined withdrawal refunds the wallet', async () => {
    const holder = await newHolder(app);
    await topUp(app, holder, '20.00');
    const declined = await withBank('decline', () => sendWithdrawal(holder, '15.00').expect(422));
    assert.equal(declined.body.code, 'bank_declined');
    assert.deepEqual(await balancesOf(holder.userId), { ...empty, walletFen: 2000n });
  });

  it('a withdrawal whose payout answer was lost completes by recovery, paid once', async () => {
    const holder = await newHolder(app);
    await topUp(app, holder, '20.00');
    const pending = await withBank('lostAnswer', () => sendWithdrawal(holder, '15.00').expect(202));
    assert.deepEqual(await balancesOf(holder.userId), { ...empty, walletFen: 500n });
    await afterRecoveryWindow();
    const payouts = await SimulatedBankTransfer.countDocuments({ _id: `${pending.body.operation.id}:payout` });
    assert.equal(payouts, 1);
    const operation = await request(app).get(`/v1/me/operations/${pending.body.operation.id}`).set(holder.auth).expect(200);
    assert.equal(operation.body.operation.status, 'completed');
    assert.deepEqual(await balancesOf(holder.userId), { ...empty, walletFen: 500n });
  });

  it('a withdrawal the bank never received is sent again by recovery', async () => {
    const holder = await newHolder(app);
    await topUp(app, holder, '20.00');
    const pending = await withBank('unavailable', () => sendWithdrawal(holder, '5.00').expect(202));
    await afterRecoveryWindow();
    const operation = await request(app).get(`/v1/me/operations/${pending.body.operation.id}`).set(holder.auth).expect(200);
    assert.equal(operation.body.operation.status, 'completed');
    assert.equal(await SimulatedBankTransfer.countDocuments({ _id: `${pending.body.operation.id}:payout` }), 1);
    assert.deepEqual(await balancesOf(holder.userId), { ...empty, walletFen: 1500n });
  });

  it('recovery cancels a charge still in flight, so its late success cannot credit a failed operation', async () => {
    const holder = await newHolder(app);
    bank.behaviour = { mode: 'ok', delayMs: 1500 };
    try {
      const inFlight = sendTopUp(holder, '7.00').then((response) => response);
      await sleep(500); // the operation is written; the bank call is under way
      await afterRecoveryWindow();
      const answer = await inFlight;
      assert.equal(answer.status, 503);
      assert.equal(answer.body.code, 'bank_unavailable');
      const charge = await SimulatedBankTransfer.findById(`${answer.body.operationId}:charge`).lean();
      assert.equal(charge?.outcome, 'declined');
    } finally {
      bank.behaviour = { mode: 'ok', delayMs: 0 };
    }
    assert.deepEqual(await balancesOf(holder.userId), empty);
  });

  it('a slow bank delays the answer but not its correctness', async () => {
    const holder = await newHolder(app);
    bank.behaviour = { mode: 'ok', delayMs: 300 };
    try {
      await sendTopUp(holder, '3.00').expect(201);
    } finally {
      bank.behaviour = { mode: 'ok', delayMs: 0 };
    }
    assert.deepEqual(await balancesOf(holder.userId), { ...empty, walletFen: 300n });
  });
});
