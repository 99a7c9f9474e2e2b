/**
 * Amounts for people to read, from integer fen. JSON keeps plain yuan strings ("1234.56") for
 * machines; these are for text a person reads: a problem's detail, the CLI's tables.
 */
import Big from 'big.js';
import { formatYuan, type Fen } from '../money/fen.ts';

/** 123456789n → "1,234,567.89": every fen kept, digits grouped by thousands. */
export function groupedYuan(amountFen: Fen): string {
  const [integerPart = '', fractionPart = ''] = formatYuan(amountFen).split('.');
  return `${integerPart.replace(/\B(?=(\d{3})+$)/g, ',')}.${fractionPart}`;
}

// The units a Chinese reader counts large sums in, largest first, in fen.
const CHINESE_UNITS = [
  { unit: '万亿', fen: 10n ** 14n },
  { unit: '亿', fen: 10n ** 10n },
  { unit: '万', fen: 10n ** 6n },
] as const;

/**
 * As a Chinese reader expects a large sum: under 1万 yuan exact and grouped ("9,999.99"); from
 * 1万 yuan in 万, from 1亿 in 亿, from 1万亿 in 万亿, with `decimals` decimals rounded half-up (a
 * tie away from zero) by big.js: 1234567n → "12.35万", 123456789012n → "12.35亿". A sum that
 * rounds up to 10,000 of its unit reads in the next: 99,999,999.99 yuan is "1.00亿", never
 * "10000.00万".
 */
export function chineseYuan(amountFen: Fen, decimals = 2): string {
  const magnitudeFen = amountFen < 0n ? -amountFen : amountFen;
  const index = CHINESE_UNITS.findIndex(({ fen }) => magnitudeFen >= fen);
  if (index === -1) return groupedYuan(amountFen);
  const sign = amountFen < 0n ? '-' : '';
  const rounded = new Big(magnitudeFen.toString()).div(CHINESE_UNITS[index]!.fen.toString()).round(decimals, Big.roundHalfUp);
  if (index > 0 && rounded.gte(10_000)) return `${sign}${new Big(1).toFixed(decimals)}${CHINESE_UNITS[index - 1]!.unit}`;
  return `${sign}${rounded.toFixed(decimals)}${CHINESE_UNITS[index]!.unit}`;
}
