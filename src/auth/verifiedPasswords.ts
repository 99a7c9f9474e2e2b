import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { setBounded } from '../db/readCache.ts';

/**
 * A short memory of payment passwords this process has just verified with scrypt, so a
 * holder's burst of payments costs one slow hash, not one each. It keeps only a keyed HMAC
 * (the key lives and dies with the process, nothing is stored) tied to the stored hash, so a
 * reset invalidates it; a wrong password never matches it and takes the slow, counted path.
 */
const KEY = randomBytes(32);
const ENTRIES_MAX = 100_000;

interface Entry {
  digest: Buffer;
  storedHash: string;
  expiresAtMs: number;
}

const entries = new Map<string, Entry>();

const digestOf = (userId: string, password: string) => createHmac('sha256', KEY).update(`${userId}\u0000${password}`).digest();

export function wasVerifiedRecently(userId: string, storedHash: string, password: string, nowMs: number): boolean {
  const entry = entries.get(userId);
  if (!entry || entry.storedHash !== storedHash || entry.expiresAtMs <= nowMs) return false;
  return timingSafeEqual(entry.digest, digestOf(userId, password));
}

export function rememberVerified(userId: string, storedHash: string, password: string, nowMs: number, lifetimeMs: number): void {
  if (lifetimeMs <= 0) return;
  setBounded(entries, userId, { digest: digestOf(userId, password), storedHash, expiresAtMs: nowMs + lifetimeMs }, ENTRIES_MAX);
}
