// Exact integer arithmetic with an explicit rounding mode, so no caller ever
// divides money with `/` and silently truncates.

/** Same meanings as big.js's rounding modes; `halfUp` rounds a tie away from zero. */
export type Rounding = 'down' | 'up' | 'halfUp' | 'halfEven';

/** a × b / divisor, exact, then rounded to an integer by `rounding`. */
export function mulDiv(a: bigint, b: bigint, divisor: bigint, rounding: Rounding): bigint {
  if (divisor <= 0n) throw new RangeError(`mulDiv: divisor must be positive, got ${divisor}`);
  const product = a * b;
  const quotient = product / divisor; // bigint division truncates toward zero
  const remainder = product % divisor; // carries the sign of the product
  if (remainder === 0n) return quotient;
  const awayFromZero = product < 0n ? -1n : 1n;
  const twiceRemainder = 2n * (remainder < 0n ? -remainder : remainder);
  const roundsAway =
    rounding === 'up' ||
    (rounding === 'halfUp' && twiceRemainder >= divisor) ||
    (rounding === 'halfEven' &&
      (twiceRemainder > divisor || (twiceRemainder === divisor && quotient % 2n !== 0n)));
  return roundsAway ? quotient + awayFromZero : quotient;
}

/** 1234n with 2 decimals -> "12.34"; -5n -> "-0.05". */
export function formatScaled(units: bigint, decimals: number): string {
  const sign = units < 0n ? '-' : '';
  const digits = (units < 0n ? -units : units).toString().padStart(decimals + 1, '0');
  const integerPart = digits.slice(0, digits.length - decimals);
  return decimals === 0 ? sign + integerPart : `${sign}${integerPart}.${digits.slice(-decimals)}`;
}

/** Reads a decimal string already checked against a strict pattern into integer units. */
export function parseScaled(text: string, decimals: number): bigint {
  const [integerPart = '', fractionPart = ''] = text.split('.');
  return BigInt(integerPart + fractionPart.padEnd(decimals, '0'));
}
