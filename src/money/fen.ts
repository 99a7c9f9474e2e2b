// Money is integer fen (0.01 yuan) held in a bigint: no float ever touches it.
// This file re-exports the rounding helpers; rates and yields are in ./yield.ts,
// which builds on this file (so this one does not re-export it).
import { formatScaled, parseScaled } from './rounding.ts';

export { formatScaled, mulDiv, type Rounding } from './rounding.ts';

export type Fen = bigint;

/** An amount the client sent that is not a canonical yuan string. Maps to a 400. */
export class MoneyFormatError extends Error {
  readonly code = 'invalid_amount';
  override name = 'MoneyFormatError';
}

// No sign, exponent, spaces or leading zeros; at most 2 decimals; at most 15
// integer digits, so every accepted amount fits a BSON int64 in fen.
const YUAN_PATTERN = /^(0|[1-9]\d{0,14})(\.\d{1,2})?$/;

/** "1234.56" -> 123456n. Accepts only a string in canonical yuan form. */
export function parseYuan(text: unknown): Fen {
  if (typeof text !== 'string' || !YUAN_PATTERN.test(text)) {
    throw new MoneyFormatError(
      'amount must be a string of yuan with at most 2 decimals, e.g. "1234.56"',
    );
  }
  return parseScaled(text, 2);
}

/** As parseYuan, and refuses zero: for amounts that must move money. */
export function parsePositiveYuan(text: unknown): Fen {
  const amountFen = parseYuan(text);
  if (amountFen === 0n) throw new MoneyFormatError('amount must be greater than zero');
  return amountFen;
}

/** 123456n -> "1234.56", -310n -> "-3.10": always 2 decimals. */
export function formatYuan(amountFen: Fen): string {
  return formatScaled(amountFen, 2);
}

export function sumFen(amountsFen: Iterable<Fen>): Fen {
  let totalFen = 0n;
  for (const amountFen of amountsFen) totalFen += amountFen;
  return totalFen;
}
