import assert from 'node:assert/strict';
import Big from 'big.js';
import { MoneyFormatError, formatScaled, formatYuan, mulDiv, parsePositiveYuan, parseYuan, sumFen, type Rounding } from '../../src/money/fen.ts';
import { RateFormatError, dailyIncomeFen, FEN8_PER_FEN, formatYieldPer10k, parseYieldPer10k, sevenDayYield } from '../../src/money/yield.ts';

const isMoneyFormatError = (error: unknown) =>
  error instanceof MoneyFormatError && error.code === 'invalid_amount' && error.message.length > 0;
const isRateFormatError = (error: unknown) => error instanceof RateFormatError && error.code === 'invalid_rate';

describe('money', () => {
  describe('parseYuan', () => {
    const valid: [string, bigint][] = [
      ['0', 0n],
      ['0.0', 0n],
      ['0.00', 0n],
      ['0.05', 5n],
      ['0.5', 50n],
      ['1', 100n],
      ['1.2', 120n],
      ['1234.56', 123456n],
      ['10000', 1000000n],
      ['999999999999999.99', 99999999999999999n],
    ];
    for (const [text, amountFen] of valid) {
      it(`reads ${JSON.stringify(text)} as ${amountFen} fen`, () => {
        assert.equal(parseYuan(text), amountFen);
      });
    }

    const invalid: unknown[] = [
      1, 12.34, 0, 10n, null, undefined, true, {}, [], ['1'], { $gt: '' },
      '', ' ', ' 1', '1 ', '1\n', '+1', '-1', '-0', '1e3', '1E3', '0x10', 'Infinity', 'NaN',
      '01', '00', '00.5', '1.', '.5', '1.234', '0.001', '1,000', '1_000', '１', '1.2.3',
      '1000000000000000', // 16 integer digits
    ];
    for (const text of invalid) {
      it(`refuses ${typeof text === 'string' ? JSON.stringify(text) : String(text)}`, () => {
        assert.throws(() => parseYuan(text), isMoneyFormatError);
      });
    }
  });

  describe('parsePositiveYuan', () => {
    it('refuses zero in every spelling', () => {
      for (const text of ['0', '0.0', '0.00']) assert.throws(() => parsePositiveYuan(text), isMoneyFormatError);
    });
    it('accepts the smallest amount', () => {
      assert.equal(parsePositiveYuan('0.01'), 1n);
    });
    it('refuses what parseYuan refuses', () => {
      assert.throws(() => parsePositiveYuan('-1'), isMoneyFormatError);
    });
  });

  describe('formatYuan', () => {
    const cases: [bigint, string][] = [
      [0n, '0.00'],
      [5n, '0.05'],
      [50n, '0.50'],
      [100n, '1.00'],
      [123456n, '1234.56'],
      [-5n, '-0.05'],
      [-310n, '-3.10'],
      [99999999999999999n, '999999999999999.99'],
    ];
    for (const [amountFen, text] of cases) {
      it(`writes ${amountFen} fen as ${text}`, () => {
        assert.equal(formatYuan(amountFen), text);
      });
    }
    it('round-trips with parseYuan', () => {
      for (const amountFen of [0n, 1n, 99n, 100n, 101n, 123456789n]) assert.equal(parseYuan(formatYuan(amountFen)), amountFen);
    });
  });

  describe('mulDiv', () => {
    // [a, b, divisor, rounding, expected]
    const cases: [bigint, bigint, bigint, Rounding, bigint][] = [
      [7n, 1n, 2n, 'down', 3n],
      [-7n, 1n, 2n, 'down', -3n],
      [7n, 1n, 2n, 'up', 4n],
      [-7n, 1n, 2n, 'up', -4n],
      [7n, 1n, 2n, 'halfUp', 4n],
      [-7n, 1n, 2n, 'halfUp', -4n],
      [5n, 1n, 2n, 'halfEven', 2n],
      [7n, 1n, 2n, 'halfEven', 4n],
      [-5n, 1n, 2n, 'halfEven', -2n],
      [10n, 1n, 3n, 'halfUp', 3n],
      [20n, 1n, 3n, 'halfUp', 7n],
      [20n, 1n, 3n, 'halfEven', 7n],
      [6n, 5n, 3n, 'up', 10n],
      [1n, 1n, 3n, 'down', 0n],
      [1n, 1n, 3n, 'up', 1n],
    ];
    for (const [a, b, divisor, rounding, expected] of cases) {
      it(`${a} × ${b} / ${divisor} ${rounding} = ${expected}`, () => {
        assert.equal(mulDiv(a, b, divisor, rounding), expected);
      });
    }
    it('refuses a divisor that is not positive', () => {
      assert.throws(() => mulDiv(1n, 1n, 0n, 'down'), RangeError);
      assert.throws(() => mulDiv(1n, 1n, -1n, 'down'), RangeError);
    });
  });

  describe('sumFen', () => {
    it('adds any iterable, empty is zero', () => {
      assert.equal(sumFen([]), 0n);
      assert.equal(sumFen([1n, 2n, -3n, 100n]), 100n);
      assert.equal(sumFen(new Set([5n, 7n])), 12n);
    });
  });

  describe('parseYieldPer10k / formatYieldPer10k', () => {
    const valid: [string, bigint, string][] = [
      ['0.4123', 4123n, '0.4123'],
      ['0.4', 4000n, '0.4000'],
      ['0', 0n, '0.0000'],
      ['0.0000', 0n, '0.0000'],
      ['-0.05', -500n, '-0.0500'],
      ['1.2345', 12345n, '1.2345'],
      ['9999.9999', 99999999n, '9999.9999'],
    ];
    for (const [text, yieldPer10k, formatted] of valid) {
      it(`reads ${text} as ${yieldPer10k} and writes ${formatted}`, () => {
        assert.equal(parseYieldPer10k(text), yieldPer10k);
        assert.equal(formatYieldPer10k(yieldPer10k), formatted);
      });
    }
    const invalid: unknown[] = [0.4123, 4123n, null, {}, '', '0.41234', '+0.4', '01.5', '.4', '4e-1', ' 0.4', '10000'];
    for (const text of invalid) {
      it(`refuses ${typeof text === 'string' ? JSON.stringify(text) : String(text)}`, () => {
        assert.throws(() => parseYieldPer10k(text), isRateFormatError);
      });
    }
  });

  describe('dailyIncomeFen', () => {
    it('12,345.67 shares at 0.4123 earn 0.50 yuan (exactly 0.5090119741)', () => {
      const { incomeFen, exactFen8 } = dailyIncomeFen(1234567n, 4123n);
      assert.equal(incomeFen, 50n);
      assert.equal(formatScaled(exactFen8, 8), '50.90119741');
      assert.equal(formatYuan(incomeFen), '0.50');
    });

    // [sharesFen, yield per 10k in 0.0001 yuan, incomeFen, exactFen]
    const cases: [bigint, bigint, bigint, string][] = [
      [1000000n, 10000n, 100n, '100'], // 10,000 shares at 1.0000 earn exactly 1 yuan
      [1234567n, -4123n, -50n, '-50.90119741'], // a loss truncates toward zero too
      [100n, 4123n, 0n, '0.004123'], // below a fen: nothing credited, all residual
      [1234567n, 0n, 0n, '0'],
      [0n, 4123n, 0n, '0'],
      [99999999999999999n, 99999999n, 99999998999999999n, '99999998999999999.00000001'],
    ];
    for (const [sharesFen, yieldPer10k, incomeFen, exactFen] of cases) {
      it(`${sharesFen} fen of shares at ${yieldPer10k} earn ${incomeFen} fen`, () => {
        const income = dailyIncomeFen(sharesFen, yieldPer10k);
        assert.equal(income.incomeFen, incomeFen);
        assert.ok(new Big(formatScaled(income.exactFen8, 8)).eq(exactFen), `exact ${income.exactFen8} != ${exactFen}`);
      });
    }

    it('distributed income plus residual equals the exact total', () => {
      const holdingsFen = [1234567n, 1n, 99n, 500000n, 777777n];
      const incomes = holdingsFen.map((sharesFen) => dailyIncomeFen(sharesFen, 4123n));
      const distributedFen = sumFen(incomes.map((income) => income.incomeFen));
      const residualFen8 = incomes.reduce((total, income) => total + income.exactFen8 - income.incomeFen * FEN8_PER_FEN, 0n);
      const exactTotalFen8 = dailyIncomeFen(sumFen(holdingsFen), 4123n).exactFen8;
      assert.equal(residualFen8 + distributedFen * FEN8_PER_FEN, exactTotalFen8);
      assert.ok(residualFen8 >= 0n && residualFen8 < BigInt(holdingsFen.length) * FEN8_PER_FEN);
    });

    it('refuses negative shares', () => {
      assert.throws(() => dailyIncomeFen(-1n, 4123n), RangeError);
    });
  });

  describe('sevenDayYield', () => {
    const week = (rate: string) => Array<string>(7).fill(rate);
    // [7 days of 万份收益, compound %, simple %], checked against Python's decimal at 300 digits
    const cases: [string[], string, string][] = [
      [week('0.4'), '1.471', '1.460'], // domain.md
      [week('0'), '0.000', '0.000'],
      [week('-0.4'), '-1.449', '-1.460'],
      [week('0.01'), '0.037', '0.037'], // simple: exactly 0.0365, a tie, rounds up
      [week('-0.01'), '-0.036', '-0.037'], // simple: the tie rounds away from zero
      [['0.4123', '0.3912', '0.6', '-0.1', '0', '0.5', '0.4444'], '1.179', '1.172'],
      [['0.6521', '0.6498', '0.6470', '0.6466', '0.6512', '0.6480', '0.6533'], '2.400', '2.371'],
      [week('9999.9999'), '7515322549400064017211121416674522055768488996351683418243720738770972316468547109282372965442266091541134486583.028', '36500.000'],
    ];
    for (const [rates, compound, simple] of cases) {
      it(`${rates.join(' ')} -> compound ${compound.slice(0, 12)}, simple ${simple}`, () => {
        assert.equal(sevenDayYield(rates, 'compound'), compound);
        assert.equal(sevenDayYield(rates, 'simple'), simple);
      });
    }

    it('takes parsed rates as well as strings', () => {
      assert.equal(sevenDayYield(Array<bigint>(7).fill(4000n), 'compound'), '1.471');
    });

    it('is not available with fewer than 7 days', () => {
      assert.equal(sevenDayYield([], 'compound'), null);
      assert.equal(sevenDayYield(week('0.4').slice(1), 'simple'), null);
    });

    it('refuses more than 7 days, bad strings and out-of-range rates', () => {
      assert.throws(() => sevenDayYield([...week('0.4'), '0.4'], 'compound'), RangeError);
      assert.throws(() => sevenDayYield([...week('0.4').slice(1), '0.41234'], 'compound'), isRateFormatError);
      assert.throws(() => sevenDayYield([...Array<bigint>(6).fill(0n), -100000000n], 'compound'), RangeError);
    });
  });
});
