import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import config from 'config';
import { appConfig, loadConfig } from '../../src/config/config.ts';

const configDir = fileURLToPath(new URL('../../config/', import.meta.url));
const defaultJson = JSON.parse(readFileSync(`${configDir}default.json`, 'utf8')) as Record<string, unknown>;

/** default.json with one key path replaced. */
function defaultWith(path: (string | number)[], value: unknown): unknown {
  const raw = structuredClone(defaultJson);
  let parent: Record<string | number, unknown> = raw;
  for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>;
  parent[path[path.length - 1]!] = value;
  return raw;
}

describe('config', () => {
  it('config/default.json validates into typed, frozen settings', () => {
    const settings = loadConfig(defaultJson);
    assert.equal(settings.zone, 'Asia/Shanghai');
    assert.equal(settings.cutoff, '15:00');
    assert.equal(settings.limits.instantRedeemDailyMaxFen, 1_000_000n);
    assert.equal(settings.limits.paymentsCountTowardInstantCap, false);
    assert.equal(settings.limits.holdingMaxFen, null);
    assert.equal(settings.redemption.redeemedSharesEarnUntil, 'requestDay');
    // FerretDB's sizes (architecture.md, defect 3): small driver pools, small update commands.
    assert.deepEqual(
      [settings.database.driverPoolSizeMax, settings.database.updateStatementsMax, settings.database.groupCommit.statementsMax],
      [10, 20, 16],
    );
    assert.deepEqual(
      settings.funds.map((fund) => [fund.code, fund.sevenDayYieldMode]),
      [['YEB001', 'compound'], ['MMF002', 'simple']],
    );
    assert.ok(Object.isFrozen(settings) && Object.isFrozen(settings.limits));
    assert.ok(Object.isFrozen(settings.funds) && Object.isFrozen(settings.funds[0]) && Object.isFrozen(settings.holidays));
  });

  it('config/test.json over default.json validates', () => {
    const settings = loadConfig(config.util.loadFileConfigs(configDir, { nodeEnv: ['test'] }));
    assert.equal(settings.jobs.processEveryMs, 200);
    assert.equal(settings.http.port, 3000);
  });

  it('appConfig() is what the config package loaded, validated once', () => {
    assert.equal(appConfig(), appConfig());
    assert.deepEqual(appConfig(), loadConfig(config.util.toObject()));
  });

  it('holds the official holidays of 2024, 2025 and 2026 day by day', () => {
    const { holidays } = loadConfig(defaultJson);
    const daysByYear = (year: string) => holidays.filter((holiday) => holiday.startsWith(year)).length;
    assert.deepEqual([daysByYear('2024'), daysByYear('2025'), daysByYear('2026')], [30, 28, 33]);
    assert.equal(new Set(holidays).size, holidays.length);
    for (const holiday of ['2024-06-08', '2024-06-10', '2024-10-07', '2025-02-04', '2025-10-08', '2026-02-23']) {
      assert.ok(holidays.includes(holiday), holiday);
    }
  });

  it('bounds every operation and every balance by default, within int64 with room to spare', () => {
    const { limits } = loadConfig(defaultJson);
    assert.equal(limits.operationMaxFen, 5_000_000_000n); // 50,000,000.00 yuan
    assert.equal(limits.balanceMaxFen, 1_000_000_000_000n); // 10,000,000,000.00 yuan
    assert.equal(loadConfig(defaultWith(['limits', 'balanceMaxFen'], '8796093022207')).limits.balanceMaxFen, 8_796_093_022_207n);
  });

  it('takes optional limits as fen strings', () => {
    const settings = loadConfig(defaultWith(['limits', 'holdingMaxFen'], '10000000'));
    assert.equal(settings.limits.holdingMaxFen, 10_000_000n);
  });

  // [key path, bad value, message the error must contain]
  const badValues: [(string | number)[], unknown, string][] = [
    [['cutoff'], '3pm', 'config: cutoff: expected HH:mm'],
    [['cutoff'], '24:00', 'config: cutoff: expected HH:mm'],
    [['zone'], 'Mars/Olympus', 'config: zone: '],
    [['funds', 1, 'sevenDayYieldMode'], 'weekly', 'config: funds[1].sevenDayYieldMode: '],
    [['funds', 1, 'code'], 'YEB001', 'config: funds: expected unique fund codes'],
    [['funds'], [], 'config: funds: '],
    [['holidays', 3], '2024-02-30', 'config: holidays[3]: expected a yyyy-MM-dd date'],
    [['holidays', 0], '2024/01/01', 'config: holidays[0]: expected a yyyy-MM-dd date'],
    [['limits', 'instantRedeemDailyMaxFen'], 1000000, 'config: limits.instantRedeemDailyMaxFen: '],
    [['limits', 'instantRedeemDailyMaxFen'], '10000.00', 'config: limits.instantRedeemDailyMaxFen: expected integer fen'],
    [['limits', 'fundDailyQuotaFen'], '-1', 'config: limits.fundDailyQuotaFen: '],
    [['redemption', 'redeemedSharesEarnUntil'], 'tradeDate', 'config: redemption.redeemedSharesEarnUntil: '],
    [['security', 'paymentPasswordMaxAttempts'], 0, 'config: security.paymentPasswordMaxAttempts: '],
    [['security', 'loginPasswordMaxAttempts'], 0, 'config: security.loginPasswordMaxAttempts: '],
    [['security', 'passwordHashing', 'concurrency'], 0, 'config: security.passwordHashing.concurrency: '],
    [['security', 'passwordHashing', 'queueMax'], -1, 'config: security.passwordHashing.queueMax: '],
    [['security', 'rateLimits', 'loginPerAddress'], undefined, 'config: security.rateLimits.loginPerAddress: '],
    [['http', 'port'], 70000, 'config: http.port: '],
    [['jobs', 'processEveryMs'], '200 milliseconds', 'config: jobs.processEveryMs: '],
    [['database', 'dataDir'], undefined, 'config: database.dataDir: '],
    [['database', 'driverPoolSizeMax'], 0, 'config: database.driverPoolSizeMax: '],
    [['database', 'groupCommit', 'statementsMax'], 21, 'config: database.groupCommit.statementsMax: expected at most database.updateStatementsMax'],
    [['clock', 'offsetMs'], 1.5, 'config: clock.offsetMs: '],
    [['limits', 'instantRedeemDailyMaxFne'], '1', 'config: limits: Unrecognized key: "instantRedeemDailyMaxFne"'],
    [['limits', 'operationMaxFen'], null, 'config: limits.operationMaxFen: '],
    [['limits', 'operationMaxFen'], '0', 'config: limits.operationMaxFen: expected more than zero fen'],
    [['limits', 'balanceMaxFen'], null, 'config: limits.balanceMaxFen: '],
    // 8,796,093,022,208 fen × 2^20 = 2^63: one fen too many for int64 once the headroom is taken.
    [['limits', 'balanceMaxFen'], '8796093022208', 'config: limits.balanceMaxFen: at most 8796093022207 fen'],
  ];
  for (const [path, value, message] of badValues) {
    it(`refuses ${path.join('.')} = ${JSON.stringify(value)}`, () => {
      assert.throws(
        () => loadConfig(defaultWith(path, value)),
        (error: unknown) => error instanceof Error && error.message.includes(message),
      );
    });
  }

  it('takes a clock offset or a stored clock outside production and refuses either in production', () => {
    assert.equal(loadConfig(defaultJson).clock.offsetMs, 0);
    assert.equal(loadConfig(defaultWith(['clock', 'offsetMs'], -90_000)).clock.offsetMs, -90_000);
    assert.equal(loadConfig(defaultWith(['clock', 'followStored'], true)).clock.followStored, true);
    const environment = process.env.NODE_ENV;
    process.env.NODE_ENV = 'production';
    try {
      assert.equal(loadConfig(defaultJson).clock.offsetMs, 0);
      assert.throws(() => loadConfig(defaultWith(['clock', 'offsetMs'], 60_000)), {
        message: 'config: clock.offsetMs: a clock offset is for tests and chaos runs: refused when NODE_ENV=production',
      });
      assert.throws(() => loadConfig(defaultWith(['clock', 'followStored'], true)), {
        message: 'config: clock.followStored: a stored clock is for tests and chaos runs: refused when NODE_ENV=production',
      });
    } finally {
      process.env.NODE_ENV = environment;
    }
  });

  it('names every bad key at once', () => {
    const raw = defaultWith(['cutoff'], '3pm') as Record<string, unknown>;
    raw['holidays'] = ['2024-13-01'];
    assert.throws(() => loadConfig(raw), {
      message: 'config: cutoff: expected HH:mm; holidays[0]: expected a yyyy-MM-dd date',
    });
  });

  it('refuses something that is not an object', () => {
    assert.throws(() => loadConfig(42), /^Error: config: \(root\): /);
  });
});
