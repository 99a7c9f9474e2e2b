import { randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import type { AppContext } from '../context.ts';
import { passwordChecksBusy } from './errors.ts';

// scrypt with N = 2^15: some 50 ms and 32 MiB per hash, slow enough to make guessing dear.
const COST = { N: 32768, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };
const KEY_BYTES = 32;

function scrypt(secret: string, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scryptCallback(secret, salt, KEY_BYTES, options, (error, key) => (error ? reject(error) : resolve(key))),
  );
}

/** `scrypt$N$r$p$salt$hash`: the parameters travel with the hash so they can be raised later. */
export async function hashSecret(secret: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(secret, salt, COST);
  return ['scrypt', COST.N, COST.r, COST.p, salt.toString('base64'), key.toString('base64')].join('$');
}

export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64');
  const options = { N: Number(n), r: Number(r), p: Number(p), maxmem: COST.maxmem };
  const actual = await scrypt(secret, Buffer.from(salt, 'base64'), options);
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/**
 * Every scrypt of a process runs through its context's pool: at most `concurrency` at once and
 * `queueMax` waiting, so a flood of sign-ins cannot stretch a payment's wait without bound. A
 * request finding the queue full is turned away at once (503, retryable), having counted nothing.
 */
class HashingPool {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly ctx: AppContext) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    await this.enter();
    try {
      return await task();
    } finally {
      this.leave();
    }
  }

  private enter(): Promise<void> {
    // Read on each use, so a changed config (a test's small pool) applies at once.
    const { concurrency, queueMax } = this.ctx.config.security.passwordHashing;
    if (this.running < concurrency) {
      this.running++;
      return Promise.resolve();
    }
    if (this.waiting.length >= queueMax) throw passwordChecksBusy();
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** The slot passes straight to the next in the queue, so no newcomer jumps it. */
  private leave(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.running--;
  }
}

const pools = new WeakMap<AppContext, HashingPool>();

/** Runs `task`, which hashes, in a slot of this process's hashing pool (one per context). */
export function withHashingSlot<T>(ctx: AppContext, task: () => Promise<T>): Promise<T> {
  let pool = pools.get(ctx);
  if (!pool) pools.set(ctx, (pool = new HashingPool(ctx)));
  return pool.run(task);
}
