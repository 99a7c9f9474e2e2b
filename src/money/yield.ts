// The fund's published yield (万份收益) and what it earns a holder.
// A 万份收益 is held as a bigint of 0.0001 yuan per 10,000 shares: "0.4123" -> 4123n.
import type { Fen } from './fen.ts';
import { formatScaled, mulDiv, parseScaled } from './rounding.ts';

/** A 万份收益 the client or ops sent that is not a 4-decimal yuan string. Maps to a 400. */
export class RateFormatError extends Error {
  readonly code = 'invalid_rate';
  override name = 'RateFormatError';
}

// At most 4 integer digits: a loss of 10,000 yuan per 10,000 shares would wipe out
// the fund, and the bound keeps the compound factor 1 + R/10000 positive.
const YIELD_PER_10K_PATTERN = /^-?(0|[1-9]\d{0,3})(\.\d{1,4})?$/;
const YIELD_PER_10K_LIMIT = 100_000_000n; // exclusive, in 0.0001 yuan

/** "0.4123" -> 4123n, "-0.05" -> -500n (0.0001 yuan per 10,000 shares). */
export function parseYieldPer10k(text: unknown): bigint {
  if (typeof text !== 'string' || !YIELD_PER_10K_PATTERN.test(text)) {
    throw new RateFormatError(
      'yield per 10,000 shares must be a string of yuan with at most 4 decimals, e.g. "0.4123"',
    );
  }
  return parseScaled(text, 4);
}

export const isYieldPer10kText = (text: unknown): text is string => typeof text === 'string' && YIELD_PER_10K_PATTERN.test(text);

/** 4123n -> "0.4123": always 4 decimals. */
export function formatYieldPer10k(yieldPer10kTenThousandths: bigint): string {
  return formatScaled(yieldPer10kTenThousandths, 4);
}

export interface DailyIncome {
  /** What the holder is credited: the exact income truncated toward zero to the fen. */
  incomeFen: Fen;
  /**
   * The exact income in 10^-8 fen (sharesFen × yield, no rounding at all);
   * exactFen8 − incomeFen × 10^8 is the holder's share of the fund's residual.
   */
  exactFen8: bigint;
}

// income yuan = (sharesFen / 100) × (yield / 10^4) / 10^4, so income fen = sharesFen × yield / 10^8.
export const FEN8_PER_FEN = 100_000_000n;

/** One holder's income for one day: 1234567n fen of shares at 4123n -> 50n fen. */
export function dailyIncomeFen(sharesFen: Fen, yieldPer10kTenThousandths: bigint): DailyIncome {
  if (sharesFen < 0n) throw new RangeError(`dailyIncomeFen: negative shares ${sharesFen}`);
  return {
    incomeFen: mulDiv(sharesFen, yieldPer10kTenThousandths, FEN8_PER_FEN, 'down'),
    exactFen8: sharesFen * yieldPer10kTenThousandths,
  };
}

export type SevenDayYieldMode = 'compound' | 'simple';

const WINDOW_DAYS = 7;

/**
 * 七日年化收益率 in percent, rounded half-up (a tie away from zero) to 3 decimals:
 * seven days of "0.4" -> "1.471" compound, "1.460" simple. Pass the 万份收益 of the
 * 7 most recent calendar days (strings as published, or parsed bigints); fewer than
 * 7 means the yield is not available yet (null).
 */
export function sevenDayYield(
  ratesPer10k: readonly (string | bigint)[],
  mode: SevenDayYieldMode,
): string | null {
  if (ratesPer10k.length > WINDOW_DAYS) {
    throw new RangeError(
      `sevenDayYield: expected at most ${WINDOW_DAYS} rates, got ${ratesPer10k.length}`,
    );
  }
  if (ratesPer10k.length < WINDOW_DAYS) return null;
  const rates = ratesPer10k.map(toYieldPer10k);
  const percentThousandths =
    mode === 'compound' ? compoundPercentThousandths(rates) : simplePercentThousandths(rates);
  return formatScaled(percentThousandths, 3);
}

function toYieldPer10k(rate: string | bigint): bigint {
  if (typeof rate === 'string') return parseYieldPer10k(rate);
  if (rate <= -YIELD_PER_10K_LIMIT || rate >= YIELD_PER_10K_LIMIT) {
    throw new RangeError(`sevenDayYield: yield per 10k out of range: ${rate}`);
  }
  return rate;
}

// Y = (Σ r / 7) × 365 / 10^4 yuan-per-yuan × 100%, with r in 10^-4 yuan:
// Y in thousandths of a percent = Σ r × 365 / 7000, exactly, then rounded once.
function simplePercentThousandths(rates: readonly bigint[]): bigint {
  const sum = rates.reduce((total, rate) => total + rate, 0n);
  return mulDiv(sum, 365n, 7_000n, 'halfUp');
}

// Each day's factor 1 + r/10^8 is the exact fraction (10^8 + r) / 10^8.
const FACTOR_SCALE = 100_000_000n;
// Digits of V = ∏^(365/7) we compute. Every rounding boundary of the percent
// (V − 1) × 100 at 3 decimals lies on the 10^-6 grid of V, so 6 exact digits plus
// a sticky "more follows" digit decide the rounding exactly, as if V were exact.
const V_DIGITS = 6n;

// Y = ([∏ (1 + Rᵢ/10000)]^(365/7) − 1) × 100%, in exact bigint arithmetic, no floats:
// floor(V × 10^6) = floor((∏^365 × 10^42)^(1/7)), and the 7th root of that integer is
// found by Newton's method on integers.
function compoundPercentThousandths(rates: readonly bigint[]): bigint {
  const numerator = rates.reduce((product, rate) => product * (FACTOR_SCALE + rate), 1n);
  const denominator = FACTOR_SCALE ** BigInt(rates.length); // 10^56
  const scaledPower = numerator ** 365n * 10n ** (7n * V_DIGITS);
  const denominatorPower = denominator ** 365n;
  const radicand = scaledPower / denominatorPower;
  const vScaled = rootFloor(radicand, 7n); // floor(V × 10^6)
  const isExact = scaledPower % denominatorPower === 0n && vScaled ** 7n === radicand;
  // Append a 5 when V has more digits: it sits strictly between two grid points,
  // so it rounds exactly as the true V does.
  const vScaledSticky = vScaled * 10n + (isExact ? 0n : 5n);
  const one = 10n ** (V_DIGITS + 1n);
  return mulDiv(vScaledSticky - one, 100_000n, one, 'halfUp');
}

/** floor(radicand^(1/degree)) for radicand >= 0, by Newton's method from above. */
function rootFloor(radicand: bigint, degree: bigint): bigint {
  if (radicand < 2n) return radicand;
  const bitLength = BigInt(radicand.toString(2).length);
  let root = 1n << (bitLength / degree + 1n); // above the root
  for (;;) {
    const next = ((degree - 1n) * root + radicand / root ** (degree - 1n)) / degree;
    if (next >= root) return root;
    root = next;
  }
}
