/**
 * How a delivery is signed, the way integrators know it from Stripe: the header
 * `Moneyfund-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">` with the
 * endpoint's secret. A receiver recomputes the HMAC over the raw body and refuses a timestamp
 * older than its tolerance, so a captured delivery cannot be replayed later.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'Moneyfund-Signature';
/** What a receiver should accept between the signing and its own clock (docs/webhooks.md). */
export const SIGNATURE_TOLERANCE_SECONDS = 300;

/** A new endpoint's secret: shown once, at registration. */
export const newWebhookSecret = () => `whsec_${randomBytes(24).toString('base64url')}`;

const hmacOf = (secret: string, timestampSeconds: number, body: string) =>
  createHmac('sha256', secret).update(`${timestampSeconds}.${body}`).digest('hex');

export function signatureHeader(secret: string, timestampSeconds: number, body: string): string {
  return `t=${timestampSeconds},v1=${hmacOf(secret, timestampSeconds, body)}`;
}

export type SignatureCheck = 'valid' | 'malformed' | 'mismatch' | 'too_old';

/** The documented verification, as a receiver runs it (and as the tests check deliveries). */
export function verifySignature(secret: string, header: string, body: string, nowSeconds: number, toleranceSeconds = SIGNATURE_TOLERANCE_SECONDS): SignatureCheck {
  const parts = new Map(header.split(',').map((part) => part.split('=', 2) as [string, string]));
  const timestampSeconds = Number(parts.get('t'));
  const given = parts.get('v1');
  if (!Number.isSafeInteger(timestampSeconds) || !given || !/^[0-9a-f]{64}$/.test(given)) return 'malformed';
  const expected = Buffer.from(hmacOf(secret, timestampSeconds, body), 'hex');
  if (!timingSafeEqual(expected, Buffer.from(given, 'hex'))) return 'mismatch';
  return Math.abs(nowSeconds - timestampSeconds) > toleranceSeconds ? 'too_old' : 'valid';
}
