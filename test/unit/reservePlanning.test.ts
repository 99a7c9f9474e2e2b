/**
 * Reserve planning (issue 25): the reserve's rules the simulation shares with the service, the
 * simulation on small hand-checked cases, the scenarios and their parsing, and the recommended
 * reserve (tight: 10% less misses the target).
 */
import assert from 'node:assert/strict';
import { holidayScheduleOf } from '../../src/calendar/holidaySchedule.ts';
import { TradingCalendar } from '../../src/calendar/tradingCalendar.ts';
import { appConfig } from '../../src/config/config.ts';
import { DomainError } from '../../src/errors.ts';
import { problemOf } from '../../src/http/problem.ts';
import { perChannel, type DailyFlow } from '../../src/planning/flows.ts';
import { recommendReserve, smallestPassing, verifiedAbove } from '../../src/planning/recommend.ts';
import { festivalProfile, parseScenario, profileOfScenario, requestsOfFlows, runProfile, splitFen } from '../../src/planning/scenarios.ts';
import { reserveSetupOf, simulateReserve, type ReserveRequest, type ReserveSetup } from '../../src/planning/simulate.ts';
import { isRenewalDue, leaseSliceFen } from '../../src/reserve/leases.ts';
import { shardShares } from '../../src/reserve/service.ts';
import { forecastFlows } from '../../src/planning/forecast.ts';
import { syntheticHistory } from '../../src/planning/synthetic.ts';
import { countAfterLeg, countedOnDay, countsTowardInstantCap, dailyLeftFen } from '../../src/transfers/dailyCounter.ts';

const config = appConfig();
const calendar = new TradingCalendar({ ...holidayScheduleOf(config.holidays), cutoff: config.cutoff, zone: config.zone });
const at = (beijingTime: string) => new Date(`${beijingTime}+08:00`).getTime();

/** One process, one shard, a 10 s lease of at most 1,000 yuan, the cap at 10,000 yuan. */
const setup = (overrides: Partial<ReserveSetup> = {}): ReserveSetup => ({
  ...reserveSetupOf({ ...config, reserve: { ...config.reserve, shards: 1, leaseMaxFen: 100_000n } }, calendar, { processes: 1, yieldPer10kShares: '0.4000' }),
  ...overrides,
});
const ask = (beijingTime: string, holderId: string, amountFen: bigint, channel: ReserveRequest['channel'] = 'instant_redemption'): ReserveRequest => ({
  atMs: at(beijingTime),
  holderId,
  channel,
  amountFen,
});

function flowDay(date: string, instantFen: bigint, instantCount: number, paymentFen = 0n, paymentCount = 0): DailyFlow {
  const totals: Record<string, bigint> = { instant_redemption: instantFen, payment: paymentFen };
  const counts: Record<string, number> = { instant_redemption: instantCount, payment: paymentCount };
  return { date, totalsFen: perChannel((channel) => totals[channel] ?? 0n), counts: perChannel((channel) => counts[channel] ?? 0) };
}

describe('reserve planning', () => {
  describe('the rules shared with the service', () => {
    it('a lease takes half of what the shard has, at most leaseMaxFen, and the amount at least', () => {
      const cases: [bigint, bigint, bigint, bigint][] = [
        // available, leaseMax, amount, slice
        [1_000n, 10_000n, 100n, 500n],
        [1_000_000n, 10_000n, 100n, 10_000n],
        [1_000n, 10_000n, 800n, 800n],
        [1_001n, 10_000n, 1n, 500n],
        [50_000n, 10_000n, 20_000n, 20_000n],
      ];
      for (const [availableFen, leaseMaxFen, amountFen, sliceFen] of cases) assert.equal(leaseSliceFen(availableFen, leaseMaxFen, amountFen), sliceFen, `${availableFen} ${leaseMaxFen} ${amountFen}`);
    });

    it('a lease is renewed ahead from three quarters of its life', () => {
      assert.equal(isRenewalDue(7_499, 10_000, 10_000), false);
      assert.equal(isRenewalDue(7_500, 10_000, 10_000), true);
      assert.equal(isRenewalDue(12_000, 10_000, 10_000), true);
    });

    it('the size spreads over the shards, the first ones taking the remainder', () => {
      assert.deepEqual(shardShares(10n, 3), [4n, 3n, 3n]);
    });

    it('the daily counter: a day counts its own legs, an earlier day nothing, and a later one stays', () => {
      const counted = { date: '2024-06-04', amountFen: 600_000n };
      assert.equal(countedOnDay(counted, '2024-06-04'), 600_000n);
      assert.equal(countedOnDay(counted, '2024-06-05'), 0n);
      assert.equal(countedOnDay(counted, '2024-06-03'), 600_000n, 'a late leg counts toward the later day');
      assert.equal(countedOnDay({ date: null, amountFen: 0n }, '2024-06-04'), 0n);
      assert.equal(dailyLeftFen(1_000_000n, counted, '2024-06-04'), 400_000n);
      assert.equal(dailyLeftFen(500_000n, counted, '2024-06-04'), -100_000n, 'a lowered maximum leaves less than nothing');
      assert.deepEqual(countAfterLeg(counted, '2024-06-04', 1n), { date: '2024-06-04', amountFen: 600_001n });
      assert.deepEqual(countAfterLeg(counted, '2024-06-05', 7n), { date: '2024-06-05', amountFen: 7n });
      assert.deepEqual(countAfterLeg(counted, '2024-06-03', 7n), { date: '2024-06-04', amountFen: 600_007n });
      assert.deepEqual(countAfterLeg({ date: null, amountFen: 0n }, '2024-06-04', 7n), { date: '2024-06-04', amountFen: 7n });
    });

    it('payments count toward the cap only when configured', () => {
      assert.equal(countsTowardInstantCap('instant_redemption', false), true);
      assert.equal(countsTowardInstantCap('payment', false), false);
      assert.equal(countsTowardInstantCap('payment', true), true);
    });
  });

  describe('simulateReserve', () => {
    it('repays a Friday-evening advance on the Tuesday after the weekend, not before', () => {
      // Fri 05-31 after the cut-off: T = Mon 06-03, settles Tue 06-04.
      const requests = [ask('2024-05-31T16:00:00', 'a', 100_000n), ask('2024-06-03T10:00:00', 'b', 100_000n), ask('2024-06-04T00:00:01', 'c', 100_000n)];
      const result = simulateReserve({ ...setup(), sizeFen: 100_000n, requests });
      assert.deepEqual([result.served.count, result.refused.forReserve.count], [2, 1]);
      assert.deepEqual(
        result.days.map((day) => [day.date, day.served.count, day.refusedForReserve.count, day.repaidFen]),
        [
          ['2024-05-31', 1, 0, 0n],
          ['2024-06-01', 0, 0, 0n],
          ['2024-06-02', 0, 0, 0n],
          ['2024-06-03', 0, 1, 0n],
          ['2024-06-04', 1, 0, 100_000n],
        ],
      );
      assert.equal(result.hoursToExhaustion, 82, 'Mon 10:00 is 82 hours after Fri 00:00');
      assert.equal(result.peakUtilisationPercent, 100);
    });

    it('checks the cap after the grant, per natural day in Beijing, and gives the grant back', () => {
      const requests = [
        ask('2024-06-04T10:00:00', 'a', 600_000n),
        ask('2024-06-04T10:00:01', 'a', 500_000n), // over the 10,000 yuan cap
        ask('2024-06-04T10:00:02', 'a', 400_000n),
        ask('2024-06-04T10:00:03', 'a', 1_000n, 'payment'), // payments do not count
        ask('2024-06-05T00:00:00', 'a', 1_000_000n), // a new day in Beijing
      ];
      const result = simulateReserve({ ...setup({ leaseMaxFen: 10_000_000n }), sizeFen: 10_000_000n, requests });
      assert.deepEqual([result.served.count, result.refused.forCap.count, result.refused.forCap.amountFen, result.refused.forReserve.count], [4, 1, 500_000n, 0]);
    });

    it('refuses what one shard cannot cover, though the shards together could, and what an open lease holds back', () => {
      const twoShards = simulateReserve({ ...setup({ shards: 2 }), sizeFen: 100_000n, requests: [ask('2024-06-04T10:00:00', 'a', 60_000n)] });
      assert.equal(twoShards.refused.forReserve.count, 1, 'each shard holds 500 yuan');
      // The first request leases half of 1,000 yuan and uses 100: its lease keeps 400, the shard 500.
      const requests = [ask('2024-06-04T10:00:00', 'a', 10_000n), ask('2024-06-04T10:00:01', 'b', 60_000n)];
      const held = simulateReserve({ ...setup(), sizeFen: 100_000n, requests });
      assert.deepEqual([held.served.count, held.refused.forReserve.count, held.leasesOpened], [1, 1, 1]);
    });

    it("returns an expired lease's rest when its owner next leases, or when the recovery job closes it", () => {
      // Round robin: a and c on process 0, b on process 1. The lease a took expires at 10:00:10.
      const requests = [ask('2024-06-04T10:00:00', 'a', 10_000n), ask('2024-06-04T10:00:11', 'b', 60_000n), ask('2024-06-04T10:00:30', 'c', 60_000n)];
      const result = simulateReserve({ ...setup({ processes: 2 }), sizeFen: 100_000n, requests });
      assert.deepEqual([result.served.count, result.refused.forReserve.count], [2, 1], 'b finds 500 yuan; c closes its own lease first and finds 900');
      const late = simulateReserve({ ...setup({ processes: 2 }), sizeFen: 100_000n, requests: [requests[0]!, ask('2024-06-04T10:01:10', 'b', 60_000n)] });
      assert.equal(late.served.count, 2, 'closed by the recovery job a minute after it expired');
    });

    it('costs the unused reserve at the fund yield, truncated', () => {
      // 1,000,000 yuan unused for a whole day at 0.4000 yuan per 10,000 shares: 40 yuan.
      const result = simulateReserve({ ...setup(), sizeFen: 100_000_000n, requests: [], fromMs: at('2024-06-04T00:00:00'), untilMs: at('2024-06-05T00:00:00') });
      assert.equal(result.idleCostFen, 4_000n);
      assert.equal(result.averageUnusedFen, 100_000_000n);
      const used = simulateReserve({ ...setup({ leaseMaxFen: 100_000_000n }), sizeFen: 100_000_000n, requests: [ask('2024-06-04T12:00:00', 'a', 100_000n)], untilMs: at('2024-06-05T00:00:00') });
      // 1,000 yuan advanced for the second half of the day: 999,500 yuan unused on average.
      assert.equal(used.averageUnusedFen, 99_950_000n);
      assert.equal(used.idleCostFen, 3_998n);
    });

    it('counts a batch as the requests it stands for, and checks each of them against the cap', () => {
      const batch: ReserveRequest = { ...ask('2024-06-04T10:00:00', 'group', 3_000_000n), count: 10 };
      const result = simulateReserve({ ...setup({ leaseMaxFen: 100_000_000n }), sizeFen: 100_000_000n, requests: [batch, { ...batch, atMs: batch.atMs + 1 }, { ...batch, atMs: batch.atMs + 2 }, { ...batch, atMs: batch.atMs + 3 }] });
      // 3,000 yuan each: the fourth would take each holder to 12,000.
      assert.deepEqual([result.requests, result.served.count, result.refused.forCap.count], [40, 30, 10]);
    });

    it('stops early once the reserve refused more than allowed', () => {
      const requests = Array.from({ length: 10 }, (_, index) => ask(`2024-06-04T10:00:0${index}`, String(index), 60_000n));
      const result = simulateReserve({ ...setup(), sizeFen: 100_000n, requests, reserveRefusalsMax: 2 });
      assert.equal(result.stoppedEarly, true);
      assert.equal(result.refused.forReserve.count, 3);
    });

    it('refuses requests out of time order, and a setup without shards or processes', () => {
      assert.throws(() => simulateReserve({ ...setup(), sizeFen: 1n, requests: [ask('2024-06-04T10:00:01', 'a', 1n), ask('2024-06-04T10:00:00', 'a', 1n)] }), RangeError);
      assert.throws(() => simulateReserve({ ...setup({ shards: 0 }), sizeFen: 1n, requests: [] }), /shards/);
      assert.throws(() => simulateReserve({ ...setup({ processes: 1.5 }), sizeFen: 1n, requests: [] }), /processes/);
    });
  });

  describe('scenarios', () => {
    it('parses the named scenarios', () => {
      assert.deepEqual(parseScenario('history'), { kind: 'history' });
      assert.deepEqual(parseScenario('forecast-upper'), { kind: 'forecast-upper' });
      assert.deepEqual(parseScenario('run:5%:4h'), { kind: 'run', percent: '5', hours: 4 });
      assert.deepEqual(parseScenario('run:0.5%:720h'), { kind: 'run', percent: '0.5', hours: 720 });
      assert.deepEqual(parseScenario('run:100%:1h'), { kind: 'run', percent: '100', hours: 1 });
      assert.deepEqual(parseScenario('festival:11-11:x2'), { kind: 'festival', monthDay: '11-11', multiplier: '2' });
      assert.deepEqual(parseScenario('festival:02-29:x1.25'), { kind: 'festival', monthDay: '02-29', multiplier: '1.25' });
    });

    it('refuses a bad scenario with invalid_scenario, a 400', () => {
      const bad = [
        'run:0%:4h',
        'run:101%:4h',
        'run:5%:0h',
        'run:5%:721h',
        'run:5%:4',
        'run:5:4h',
        'run:-5%:4h',
        'run:5.001%:4h',
        'run:1e2%:4h',
        'festival:13-01:x2',
        'festival:02-30:x2',
        'festival:11-11:x0',
        'festival:11-11:x101',
        'festival:11-11:2',
        'festival:1111:x2',
        'History',
        '',
        ' history',
        'x'.repeat(1000),
        42,
        null,
        { $gt: '' },
      ];
      for (const text of bad) {
        assert.throws(
          () => parseScenario(text),
          (error: unknown) => error instanceof DomainError && error.code === 'invalid_scenario' && problemOf(error).status === 400 && error.detail.length < 400,
          String(text),
        );
      }
    });

    it('turns daily totals into requests that keep every fen and request, hour by hour', () => {
      const days = [flowDay('2024-06-03', 1_000_003n, 100, 50_000n, 7), flowDay('2024-06-04', 0n, 0, 10n, 30)];
      const profile = requestsOfFlows(days, { seed: 1, holders: 50 });
      const requests = [...profile.requests()];
      assert.equal(requests.reduce((sum, request) => sum + request.amountFen, 0n), 1_050_013n);
      assert.equal(profile.totalFen, 1_050_013n);
      assert.equal(requests.reduce((sum, request) => sum + (request.count ?? 1), 0), profile.requestCount);
      assert.equal(profile.requestCount, 100 + 7 + 10, "the day's counts, and no more requests than fen");
      assert.ok(requests.every((request, index) => index === 0 || request.atMs >= requests[index - 1]!.atMs), 'in time order');
      assert.equal(profile.fromMs, at('2024-06-03T00:00:00'));
      assert.equal(profile.untilMs, at('2024-06-05T00:00:00'));
      assert.deepEqual([...profile.requests()], requests, 'the same on every pass');
    });

    it('batches an hour beyond batchesPerHourMax, each batch counting its requests', () => {
      const profile = requestsOfFlows([flowDay('2024-06-03', 24_000_000n, 24_000)], { seed: 1, holders: 1_000_000, hourlyShape: Array.from({ length: 24 }, () => 1), batchesPerHourMax: 10 });
      const requests = [...profile.requests()];
      assert.equal(requests.length, 240);
      assert.ok(requests.every((request) => request.count === 100 && request.amountFen === 100_000n));
      assert.match(profile.notes.join(' '), /10 equal batches/);
    });

    it('uses the hourly totals where the day has them, and a forecast day by its upper band', () => {
      const hourly = Array.from({ length: 24 }, (_, hour) => (hour === 20 ? 5_000n : 0n));
      const day = { ...flowDay('2024-06-03', 5_000n, 5), hourlyFen: { instant_redemption: hourly } };
      const requests = [...requestsOfFlows([day], { seed: 1, holders: 5 }).requests()];
      assert.ok(requests.every((request) => request.atMs >= at('2024-06-03T20:00:00') && request.atMs < at('2024-06-03T21:00:00')));
      const forecast = [{ date: '2024-06-03', channels: perChannel((channel) => ({ pointFen: 1n, lowerFen: 0n, upperFen: channel === 'instant_redemption' ? 9_000n : 0n })) }];
      const upper = requestsOfFlows(forecast, { seed: 1, holders: 5, meanRequestFen: { instant_redemption: 1_000n, payment: 1_000n } });
      assert.deepEqual([upper.totalFen, upper.name], [9_000n, 'forecast-upper']);
      assert.throws(() => requestsOfFlows(forecast, { seed: 1, holders: 5 }), /mean request size/);
    });

    it('a run: the share of the AUM in equal asks, bounded by the per-holder cap, which the simulation applies', () => {
      const run = runProfile({ aumFen: 1_000_000_000n, percent: '5', hours: 4, holders: 1_000, startMs: at('2024-06-04T10:00:00'), instantDailyMaxFen: 1_000_000n, seed: 3 });
      // 5% of 10,000,000 yuan: 500 yuan each from 1,000 holders, well under the cap.
      assert.deepEqual([run.totalFen, run.requestCount], [50_000_000n, 1_000]);
      assert.match(run.notes.join(' '), /bounds the run to 1000000000 fen over the 1 natural day/);
      const capped = runProfile({ aumFen: 1_000_000_000n, percent: '50', hours: 4, holders: 10, startMs: at('2024-06-04T22:00:00'), instantDailyMaxFen: 1_000_000n, seed: 3 });
      // 50,000 yuan each, asked 10,000 at a time over two natural days: at most 20,000 each.
      assert.match(capped.notes.join(' '), /bounds the run to 20000000 fen over the 2 natural day/);
      const result = simulateReserve({ ...setup({ leaseMaxFen: 100_000_000n }), sizeFen: 1_000_000_000n, requests: capped.requests(), fromMs: capped.fromMs, untilMs: capped.untilMs });
      assert.equal(result.refused.forReserve.count, 0);
      assert.ok(result.served.amountFen <= 20_000_000n && result.refused.forCap.count >= 30, `${result.served.amountFen} ${result.refused.forCap.count}`);
    });

    it('a festival: its last occurrence in the history times k, on its next date', () => {
      const history = [flowDay('2023-11-11', 1_000_000n, 100), flowDay('2024-06-03', 10n, 1), flowDay('2024-11-11', 2_000_000n, 200), flowDay('2024-11-12', 10n, 1)];
      const festival = festivalProfile(history, { monthDay: '11-11', multiplier: '1.5' }, { seed: 1, holders: 1_000 });
      assert.deepEqual([festival.totalFen, festival.requestCount, festival.name], [3_000_000n, 300, 'festival:11-11:x1.5']);
      assert.equal(festival.fromMs, at('2025-11-11T00:00:00'));
      assert.throws(
        () => festivalProfile(history, { monthDay: '06-18', multiplier: '2' }, { seed: 1, holders: 1 }),
        (error: unknown) => error instanceof DomainError && error.code === 'scenario_day_missing' && problemOf(error).status === 422,
      );
    });

    it('builds the profile a parsed scenario names', () => {
      const history = [flowDay('2024-11-11', 1_000_000n, 100)];
      const sources = { seed: 1, holders: 100, history, aumFen: 100_000_000n, startMs: at('2024-06-04T10:00:00'), instantDailyMaxFen: 1_000_000n };
      assert.equal(profileOfScenario(parseScenario('history'), sources).totalFen, 1_000_000n);
      assert.equal(profileOfScenario(parseScenario('festival:11-11:x2'), sources).totalFen, 2_000_000n);
      assert.equal(profileOfScenario(parseScenario('run:5%:4h'), sources).totalFen, 5_000_000n);
      assert.throws(() => profileOfScenario(parseScenario('forecast-upper'), sources), /needs a forecast/);
    });

    it('splits an amount by weights exactly', () => {
      assert.deepEqual(splitFen(10n, [1n, 1n, 1n]), [4n, 3n, 3n]);
      assert.deepEqual(splitFen(7n, [0n, 3n, 1n]), [0n, 6n, 1n]);
      assert.throws(() => splitFen(1n, [0n]), RangeError);
    });
  });

  describe('on the synthetic history and its forecast', () => {
    const history = syntheticHistory({ fromDate: '2024-01-01', days: 366, seed: 5, calendar, scale: 0.2 });
    const mean = (channel: 'instant_redemption' | 'payment') => {
      const recent = history.slice(-28);
      return recent.reduce((sum, day) => sum + day.totalsFen[channel], 0n) / BigInt(recent.reduce((sum, day) => sum + day.counts[channel], 0));
    };

    it('replays a year of history and the forecast upper band, and sizes the reserve for the band', () => {
      const year = requestsOfFlows(history, { seed: 1, holders: 100_000, batchesPerHourMax: 10 });
      const base = { ...setup({ shards: 8, leaseMaxFen: 10_000_000n, processes: 2 }), fromMs: year.fromMs, untilMs: year.untilMs };
      const replayed = simulateReserve({ ...base, sizeFen: 100_000_000n, requests: year.requests() });
      assert.equal(replayed.requests, year.requestCount);
      assert.equal(replayed.days.length, 366);
      assert.equal(replayed.served.amountFen + replayed.refused.amountFen, year.totalFen);
      const forecast = forecastFlows(history, calendar, { fromDate: '2025-01-01', days: 30 });
      const band = requestsOfFlows(forecast, { seed: 1, holders: 100_000, meanRequestFen: { instant_redemption: mean('instant_redemption'), payment: mean('payment') } });
      const upperFen = forecast.reduce((sum, day) => sum + day.channels.instant_redemption.upperFen + day.channels.payment.upperFen, 0n);
      assert.equal(band.totalFen, upperFen);
      const bandSetup = { ...base, fromMs: band.fromMs, untilMs: band.untilMs };
      const recommendation = recommendReserve(band.requests, bandSetup, { serviceLevelPercent: 99.9, shardCandidates: [], leaseMaxCandidates: [] })!;
      assert.ok(recommendation.servedPercent >= 99.9 && recommendation.tight, `${recommendation.servedPercent} ${recommendation.smallerServedPercent}`);
      assert.ok(recommendation.sizeFen < upperFen, "repaid as it settles, the reserve needs less than the band's month");
    });
  });

  describe('the recommended reserve', () => {
    // Four weeks of a small fund: a weekday pattern and a heavy Friday.
    const history = Array.from({ length: 28 }, (_, index) => {
      const date = calendar.addCalendarDays('2024-04-29', index);
      const weekday = new Date(`${date}T00:00:00Z`).getUTCDay();
      const factor = weekday === 5 ? 3n : weekday === 0 || weekday === 6 ? 1n : 2n;
      return flowDay(date, 3_000_000n * factor, 100 * Number(factor), 1_000_000n * factor, 200 * Number(factor));
    });
    const profile = requestsOfFlows(history, { seed: 11, holders: 2_000, batchesPerHourMax: 20 });
    const base = { ...setup({ shards: 8, leaseMaxFen: 100_000n, processes: 2 }), fromMs: profile.fromMs, untilMs: profile.untilMs };

    it('is the smallest reserve that serves the target; 10% less does not', () => {
      const recommendation = recommendReserve(profile.requests, base, { serviceLevelPercent: 99.9, shardCandidates: [1, 8], leaseMaxCandidates: [20_000n] })!;
      const replay = (sizeFen: bigint, shards: number, leaseMaxFen: bigint) => simulateReserve({ ...base, shards, leaseMaxFen, sizeFen, requests: profile.requests() });
      const atRecommendation = replay(recommendation.sizeFen, recommendation.shards, recommendation.leaseMaxFen);
      assert.ok(atRecommendation.reserveServedPercent >= 99.9, String(atRecommendation.reserveServedPercent));
      const smaller = replay((recommendation.sizeFen * 9n) / 10n, recommendation.shards, recommendation.leaseMaxFen);
      assert.ok(smaller.reserveServedPercent < 99.9, String(smaller.reserveServedPercent));
      assert.equal(recommendation.tight, true);
      assert.equal(recommendation.servedPercent, atRecommendation.reserveServedPercent);
      assert.equal(recommendation.smallerServedPercent, smaller.reserveServedPercent);
      assert.deepEqual(recommendation.candidates.map((candidate) => [candidate.shards, candidate.leaseMaxFen]), [[8, 100_000n], [1, 100_000n], [recommendation.shards, 20_000n]]);
      const best = recommendation.candidates.filter((candidate) => candidate.sizeFen !== null).map((candidate) => candidate.sizeFen!);
      assert.equal(recommendation.sizeFen <= best.reduce((low, sizeFen) => (sizeFen < low ? sizeFen : low)), true);
      // Far less than the four weeks' outflow: the reserve is repaid as it settles (the Labour Day holiday holds it longest).
      assert.ok(recommendation.sizeFen * 3n < profile.totalFen, `${recommendation.sizeFen} of ${profile.totalFen}`);
    });

    it('a lower service level needs less, and is as tight', () => {
      const strict = recommendReserve(profile.requests, base, { serviceLevelPercent: 99.9, shardCandidates: [], leaseMaxCandidates: [] })!;
      const loose = recommendReserve(profile.requests, base, { serviceLevelPercent: 90, shardCandidates: [], leaseMaxCandidates: [] })!;
      assert.ok(loose.sizeFen < strict.sizeFen, `${loose.sizeFen} ${strict.sizeFen}`);
      assert.ok(loose.servedPercent >= 90 && loose.smallerServedPercent < 90 && loose.tight, `${loose.servedPercent} ${loose.smallerServedPercent}`);
    });

    it('searches past a size that is not safe: the answer passes, and so do the sizes checked above it', () => {
      // Passes from 1,000 yuan, except in a pocket 1,040..1,060 yuan that the bisection does not probe.
      const passes = (sizeFen: bigint) => sizeFen >= 100_000n && !(sizeFen >= 104_000n && sizeFen <= 106_000n);
      const found = smallestPassing(passes, 1_000_000n);
      assert.ok(found >= 100_000n && found <= 100_200n, String(found));
      const safe = verifiedAbove(passes, found);
      assert.ok(safe > 106_000n && safe <= 106_300n, String(safe));
    });
  });
});
