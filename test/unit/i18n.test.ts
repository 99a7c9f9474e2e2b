/**
 * The message catalogues and the amount formatter: every code and status has its Chinese, so a
 * new code cannot ship untranslated; amounts read as Chinese readers expect, exact from fen.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { printed, Tabular } from '../../src/cli/output.ts';
import { BALANCE_MAX_LIMIT_FEN } from '../../src/config/config.ts';
import { FAILURE_DETAIL } from '../../src/errors.ts';
import { STATUS_OF_CODE } from '../../src/http/problem.ts';
import { chineseYuan, groupedYuan } from '../../src/i18n/formatAmount.ts';
import { hasMessage, LANGUAGES } from '../../src/i18n/i18n.ts';
import { parseYuan } from '../../src/money/fen.ts';

const srcDir = fileURLToPath(new URL('../../src/', import.meta.url));
const OTHER_LANGUAGES = LANGUAGES.filter((language) => language !== 'en');

/** Every message key a throw site names: `key: 'not_found_account'` in a DomainError's translation. */
async function keysNamed(): Promise<Set<string>> {
  const files = (await readdir(srcDir, { recursive: true })).filter((file) => file.endsWith('.ts'));
  const keys = new Set<string>();
  for (const file of files) {
    for (const match of (await readFile(`${srcDir}${file}`, 'utf8')).matchAll(/\bkey: '([a-z_]+)'/g)) keys.add(match[1]!);
  }
  return keys;
}

describe('message catalogues', () => {
  it('every status has a title in every language', () => {
    const statuses = new Set(Object.values(STATUS_OF_CODE));
    for (const language of LANGUAGES) {
      assert.deepEqual([...statuses].filter((status) => !hasMessage(language, `title.${status}`)), [], `titles missing in ${language}`);
    }
  });

  it('every result code and every stored failure has a detail in every language but English, whose detail the code writes', () => {
    const codes = new Set([...Object.keys(STATUS_OF_CODE), ...Object.keys(FAILURE_DETAIL)]);
    for (const language of OTHER_LANGUAGES) {
      assert.deepEqual([...codes].filter((code) => !hasMessage(language, `detail.${code}`)), [], `details missing in ${language}`);
    }
  });

  it('every message key a throw site names has a detail in every language but English', async () => {
    const keys = await keysNamed();
    assert.ok(keys.has('not_found_account') && keys.has('invalid_request_validation'), 'the scan is broken');
    for (const language of OTHER_LANGUAGES) assert.deepEqual([...keys].filter((key) => !hasMessage(language, `detail.${key}`)), []);
  });
});

describe('amounts for people', () => {
  // Fen in, [grouped, as Chinese readers count]: the 万/亿/万亿 boundaries, half-up ties, signs,
  // and the bounds: the largest balance (BALANCE_MAX_LIMIT_FEN) and the largest amount a request
  // may carry (15 integer digits, parseYuan).
  const cases: [bigint, string, string][] = [
    [0n, '0.00', '0.00'],
    [5n, '0.05', '0.05'],
    [-310n, '-3.10', '-3.10'],
    [99_999n, '999.99', '999.99'],
    [100_000n, '1,000.00', '1,000.00'],
    [999_999n, '9,999.99', '9,999.99'],
    [1_000_000n, '10,000.00', '1.00万'],
    [1_234_500n, '12,345.00', '1.23万'],
    [1_235_000n, '12,350.00', '1.24万'],
    [-1_235_000n, '-12,350.00', '-1.24万'],
    [123_456_789n, '1,234,567.89', '123.46万'],
    [9_999_994_999n, '99,999,949.99', '9999.99万'],
    [9_999_995_000n, '99,999,950.00', '1.00亿'],
    [9_999_999_999n, '99,999,999.99', '1.00亿'],
    [10_000_000_000n, '100,000,000.00', '1.00亿'],
    [12_345_678_901n, '123,456,789.01', '1.23亿'],
    [BALANCE_MAX_LIMIT_FEN, '87,960,930,222.07', '879.61亿'],
    [99_999_999_999_999n, '999,999,999,999.99', '1.00万亿'],
    [parseYuan('999999999999999.99'), '999,999,999,999,999.99', '1000.00万亿'],
  ];
  for (const [amountFen, grouped, chinese] of cases) {
    it(`${amountFen} fen: ${grouped}, ${chinese}`, () => {
      assert.equal(groupedYuan(amountFen), grouped);
      assert.equal(chineseYuan(amountFen), chinese);
    });
  }

  it('rounds to the decimals asked, half-up', () => {
    assert.equal(chineseYuan(1_235_000n, 1), '1.2万');
    assert.equal(chineseYuan(1_250_000n, 1), '1.3万');
    assert.equal(chineseYuan(12_345_678_901n, 4), '1.2346亿');
  });
});

describe("the ops CLI's output", () => {
  const report = new Tabular({ days: [] }, { filename: 'r.csv', columns: ['fund', 'amount', 'utilisationPercent'], rows: [{ fund: '余额宝', amount: '1234567.89', utilisationPercent: '1234.50' }] });

  it('groups amounts for people, not percentages, and keeps the CSV plain', () => {
    assert.deepEqual(printed(report, 'text').split('\n').map((line) => line.trim().split(/ +/)), [['fund', 'amount', 'utilisationPercent'], ['余额宝', '1,234,567.89', '1234.50'], ['']]);
    assert.equal(printed({ available: '800.00', size: '12345.00' }, 'text'), 'available  800.00\nsize       12,345.00\n');
    assert.equal(printed(report, 'csv'), 'fund,amount,utilisationPercent\r\n余额宝,1234567.89,1234.50\r\n');
  });

  it('starts the CSV with a UTF-8 BOM when asked', () => {
    assert.equal(printed(report, 'csv', { bom: true }), `\uFEFF${printed(report, 'csv')}`);
    assert.equal(Buffer.from(printed(report, 'csv', { bom: true })).subarray(0, 3).toString('hex'), 'efbbbf');
  });
});
