/**
 * Every type of the event catalogue reaches a real receiver on loopback, signed. The types
 * test/api/webhookDeliveries.test.ts does not send are made here by real requests and jobs: a
 * bank that declines or loses its answer, a holder who switches funds while her card is
 * charged, a process that dies before a holder's leg, a limit an auto-sweep meets. Nothing is
 * inserted by hand. The last test holds the delivery tests together to the catalogue, so a new
 * type without a receiver test fails the suite.
 */
import assert from 'node:assert/strict';
import request from 'supertest';
import type { AppConfig } from '../../src/config/config.ts';
import { SimulatedBankTransfer } from '../../src/bank/model.ts';
import type { SimulatedBankMode } from '../../src/bank/simulatedBank.ts';
import { EVENT_TYPES, type EventType } from '../../src/events/catalogue.ts';
import { relayEvents } from '../../src/events/log.ts';
import '../../src/eventSources.ts';
import { NO_FAULTS } from '../../src/faults.ts';
import { Operation, type OperationDocument } from '../../src/operations/model.ts';
import { recoverStuckOperations } from '../../src/operations/recovery.ts';
import { LeaseNote, type LeaseNoteDocument } from '../../src/reserve/model.ts';
import { deliverWebhooks } from '../../src/webhooks/delivery.ts';
import { WebhookEndpoint } from '../../src/webhooks/model.ts';
import { verifySignature } from '../../src/webhooks/signature.ts';
import { assertProblem, idempotencyKey, newHolder, PAYMENT_PASSWORD, topUp, type Holder, type TestApp } from '../support/api.ts';
import { HeldFaults } from '../support/gate.ts';
import { addTestFund, transferIn } from '../support/income.ts';
import { closeAllLeases, holderWithShares, instant, pay } from '../support/instant.ts';
import { webhookTestStart, Receiver } from '../support/receiver.ts';
import { until } from '../support/until.ts';
import { adjustReserve, ArmedFaults } from '../support/reserve.ts';

/** What test/api/webhookDeliveries.test.ts sends through its receiver (its first two tests). */
const SENT_BY_WEBHOOK_DELIVERIES: EventType[] = [
  'top_up.succeeded',
  'transfer_in.accepted',
  'transfer_in.confirmed',
  'instant_redemption.succeeded',
  'redemption.accepted',
  'redemption.settled',
  'income.credited',
  'fund_day.accrued',
  'payment_password.locked',
  'payment_password.unlocked',
  'payment_password.reset',
  'session.created',
  'session.revoked',
  'reserve.low_water',
  'reserve.recovered',
  'reserve.forecast_uncovered',
  'reserve.forecast_covered',
  'reconciliation.break',
  'calendar.coverage_ending',
];

/**
 * Catalogue types that no real change produces, and why: each waits for a decision to drop it
 * from the catalogue or to change the rule that withholds it (src/transfers/events.ts).
 */
const NEVER_SENT: Partial<Record<EventType, string>> = {};

const BANK_SIDE: EventType[] = ['withdrawal.succeeded', 'withdrawal.failed', 'transfer_in.failed', 'top_up.failed'];
const INSTANT_SIDE: EventType[] = ['payment.succeeded', 'payment.failed', 'instant_redemption.failed'];
const SWEEPS: EventType[] = ['auto_sweep.succeeded', 'auto_sweep.failed'];
const DECIDED_BY_RECOVERY: EventType[] = ['top_up.failed', 'redemption.failed'];

describe('webhook catalogue', function () {
  this.timeout(60_000);
  let t: TestApp;
  let ops: Holder;
  let hooks: Receiver;
  let secret: string;

  beforeEach(async () => {
    ({ t, ops } = await webhookTestStart());
    hooks = await Receiver.start('receiver');
  });

  afterEach(async () => {
    t.ctx.faults = NO_FAULTS;
    await WebhookEndpoint.deleteMany({ url: hooks.url }); // later files' deliveries do not knock at a closed receiver
    await hooks.close();
  });

  async function register(types: EventType[]): Promise<void> {
    ({ secret } = (await request(t.app).post('/v1/ops/webhook-endpoints').set(ops.auth).send({ url: hooks.url, types }).expect(201)).body);
  }

  function useLimits(limits: Partial<AppConfig['limits']>): void {
    t.ctx.config = { ...t.ctx.config, limits: { ...t.ctx.config.limits, ...limits } };
  }

  async function withBank<T>(mode: SimulatedBankMode, action: () => Promise<T>): Promise<T> {
    t.bank.behaviour = { mode, delayMs: 0 };
    try {
      return await action();
    } finally {
      t.bank.behaviour = { mode: 'ok', delayMs: 0 };
    }
  }

  const sendTopUp = (holder: Holder, amount: string, key = idempotencyKey()) =>
    request(t.app).post('/v1/me/top-ups').set(holder.auth).set('Idempotency-Key', key).send({ amount, bankCardId: holder.bankCardId });

  const withdraw = (holder: Holder, amount: string) =>
    request(t.app)
      .post('/v1/me/withdrawals')
      .set(holder.auth)
      .set('Idempotency-Key', idempotencyKey())
      .send({ amount, bankCardId: holder.bankCardId, paymentPassword: PAYMENT_PASSWORD });

  const operationsOf = async (holder: Holder, type: OperationDocument['type']) =>
    Operation.find({ userId: holder.userId, type }).sort({ _id: 1 }).lean<OperationDocument[]>();

  /**
   * Relays and delivers what is filed, then checks what reached the receiver for these holders:
   * each of `expected` (type and operation) once, nothing else, every request signed.
   */
  async function assertDelivered(of: Holder[], expected: [EventType, string][]): Promise<void> {
    await relayEvents();
    await deliverWebhooks(t.ctx);
    const mine = hooks.requests.filter((delivery) => of.some((holder) => holder.userId === delivery.holderId));
    const sent = mine.map((delivery) => `${delivery.type} ${String(delivery.data.operation?.id)}`).sort();
    assert.deepEqual(sent, expected.map(([type, operationId]) => `${type} ${operationId}`).sort());
    const nowSeconds = Math.floor(Date.now() / 1000);
    for (const delivery of hooks.requests) assert.equal(verifySignature(secret, delivery.signature, delivery.body, nowSeconds), 'valid', delivery.id);
  }

  it('tells of a withdrawal paid and one declined, and of a card transfer-in and a top-up that failed after the card was charged', async () => {
    await register(BANK_SIDE);
    const withdrawer = await newHolder(t.app);
    await topUp(t.app, withdrawer, '100.00');
    const paid = (await withdraw(withdrawer, '10.00').expect(201)).body.operation.id;
    const declined = await withBank('decline', () => withdraw(withdrawer, '10.00'));
    assertProblem(declined, 422, 'bank_declined'); // the wallet was debited, then refunded

    // The card is charged for fund YEB001; before the subscription's leg, its holder moves into another fund.
    const switcher = await newHolder(t.app);
    await topUp(t.app, switcher, '100.00');
    const otherFund = addTestFund(t);
    const held = new HeldFaults();
    t.ctx.faults = held;
    const beforeLeg = held.hold('leg:before-queue');
    const cardTransferIn = request(t.app)
      .post('/v1/me/transfers-in')
      .set(switcher.auth)
      .set('Idempotency-Key', idempotencyKey())
      .send({ amount: '50.00', channel: 'bank_card', bankCardId: switcher.bankCardId, fundCode: 'YEB001' })
      .then((response) => response);
    await beforeLeg.reached;
    t.ctx.faults = NO_FAULTS;
    const [charged] = await operationsOf(switcher, 'transfer_in');
    assert.equal((await SimulatedBankTransfer.findById(`${charged!._id}:charge`).lean())?.outcome, 'succeeded', 'charged before its leg');
    await transferIn(t.app, switcher, otherFund, '100.00');
    beforeLeg.open();
    assertProblem(await cardTransferIn, 409, 'fund_switch_not_allowed'); // the card's money lands in the wallet

    // Charged, its answer lost; the wallet fills meanwhile, so recovery cannot credit it, and the bank refuses the refund.
    const filler = await newHolder(t.app);
    await topUp(t.app, filler, '80.00');
    useLimits({ balanceMaxFen: 20_000n });
    const key = idempotencyKey();
    const charging = await withBank('lostAnswer', () => sendTopUp(filler, '100.00', key).expect(202));
    await topUp(t.app, filler, '100.00');
    t.clock.advance(t.ctx.config.jobs.recoverAfterMs + 1_000);
    assertProblem(await withBank('decline', () => sendTopUp(filler, '100.00', key)), 409, 'balance_limit_exceeded'); // a replay drives it as recovery would

    await assertDelivered([withdrawer, switcher, filler], [
      ['withdrawal.succeeded', paid],
      ['withdrawal.failed', declined.body.operationId],
      ['transfer_in.failed', charged!._id],
      ['top_up.failed', charging.body.operation.id],
    ]);
  });

  it('tells of a payment that stands, and of a payment and an instant redemption whose process died before the holder\'s leg', async () => {
    await register(INSTANT_SIDE);
    await adjustReserve(t, ops, '1000.00', 'increase').expect(201);
    const merchant = (await request(t.app).post('/v1/ops/merchants').set(ops.auth).send({ name: 'Catalogue Noodle Bar' }).expect(201)).body;
    const holder = await holderWithShares(t, '500.00');
    const paid = (await pay(t, holder, merchant.id, '100.00').expect(201)).body.operation.id;
    // Its lease's owner notes it a moment later (a timer): the note is the event's source, and a
    // lease its idle owner closes is closed without waiting for it.
    const { leaseId } = (await Operation.findById(paid).lean<OperationDocument>())!;
    await until('the payment noted on its lease', 10_000, async () =>
      (await LeaseNote.find({ leaseId }).lean<LeaseNoteDocument[]>()).some((note) => note.operationIds.split(' ').includes(paid)),
    );
    const faults = new ArmedFaults();
    t.ctx.faults = faults;
    faults.arm('instant:before-redeem'); // written with its lease, then the process dies
    await pay(t, holder, merchant.id, '50.00').expect(500);
    faults.arm('instant:before-redeem');
    await instant(t, holder, '50.00').expect(500);
    t.ctx.faults = NO_FAULTS;
    await closeAllLeases(t); // recovery closes the lease: the unsure ones are fenced and failed, after their requests ended

    const [, interruptedPayment] = await operationsOf(holder, 'payment');
    const [interruptedInstant] = await operationsOf(holder, 'instant_redemption');
    for (const op of [interruptedPayment, interruptedInstant]) assert.deepEqual([op?.status, op?.failure?.code], ['failed', 'interrupted']);
    await assertDelivered([holder], [
      ['payment.succeeded', paid],
      ['payment.failed', interruptedPayment!._id],
      ['instant_redemption.failed', interruptedInstant!._id],
    ]);
  });

  it('tells of a sweep on arrival that went into the fund, and of one the holding maximum refused', async () => {
    await register(SWEEPS);
    useLimits({ holdingMaxFen: 10_000n });
    const holder = await newHolder(t.app);
    await request(t.app).put('/v1/me/auto-sweep').set(holder.auth).send({ enabled: true, keep: '10.00', onArrival: true }).expect(200);
    await topUp(t.app, holder, '70.00'); // 60.00 swept
    await topUp(t.app, holder, '70.00'); // 70.00 more would hold 130.00: refused

    const [swept, refused] = await operationsOf(holder, 'transfer_in');
    assert.deepEqual([swept?.amountFen, refused?.status, refused?.failure?.code], [6_000n, 'failed', 'holding_limit_exceeded']);
    await assertDelivered([holder], [
      ['auto_sweep.succeeded', swept!._id],
      ['auto_sweep.failed', refused!._id],
    ]);
  });

  it('tells of failures recovery decided after their requests ended without one: a top-up the silent bank never charged, a redemption whose shares were gone', async () => {
    await register(DECIDED_BY_RECOVERY);
    const topper = await newHolder(t.app);
    const silent = await withBank('unavailable', () => sendTopUp(topper, '10.00').expect(202)); // the holder hears "at the bank"
    await adjustReserve(t, ops, '10000.00', 'increase').expect(201);
    const redeemer = await holderWithShares(t, '500.00');
    const faults = new ArmedFaults();
    t.ctx.faults = faults;
    faults.arm('leg:before-queue'); // the request dies before the redemption's leg
    await request(t.app).post('/v1/me/redemptions').set(redeemer.auth).set('Idempotency-Key', idempotencyKey()).send({ amount: '300.00', channel: 'wallet', paymentPassword: PAYMENT_PASSWORD }).expect(500);
    t.ctx.faults = NO_FAULTS;
    await instant(t, redeemer, '500.00').expect(201); // meanwhile the shares go
    t.clock.advance(t.ctx.config.jobs.recoverAfterMs + 1_000);
    await recoverStuckOperations(t.ctx);

    const [stranded] = await operationsOf(redeemer, 'redemption');
    const [unpaid] = await operationsOf(topper, 'top_up');
    assert.deepEqual([stranded?.status, stranded?.failure?.code, unpaid?.status], ['failed', 'insufficient_shares', 'failed']);
    await assertDelivered([topper, redeemer], [
      ['top_up.failed', silent.body.operation.id],
      ['redemption.failed', stranded!._id],
    ]);
  });

  it('sends every type of the catalogue in one delivery test or another', () => {
    const sent = [...SENT_BY_WEBHOOK_DELIVERIES, ...BANK_SIDE, ...INSTANT_SIDE, ...SWEEPS, ...DECIDED_BY_RECOVERY];
    const neverSent = Object.keys(NEVER_SENT) as EventType[];
    assert.deepEqual(sent.filter((type) => neverSent.includes(type)), [], 'a type sent is not also listed as never sent');
    assert.deepEqual([...new Set([...sent, ...neverSent])].sort(), [...EVENT_TYPES].sort());
  });
});
