import type { Clock } from '../calendar/clock.ts';
import type { AppConfig } from '../config/config.ts';

/** What a cache needs of the application context (src/context.ts, which builds on db/, so not imported here). */
interface CacheContext {
  clock: Clock;
  config: AppConfig;
}

const ENTRIES_MAX = 100_000;

/**
 * Reads the hot path of a money request may take a while old (on the context's clock),
 * remembered per process so that such a request reads nothing: the session of a token, the
 * payment password's state, the holder's fund, the fund's last accrued day. A write this
 * process makes forgets its entry at once; another process's write is seen once the entry
 * has aged out. Each use says why its staleness is harmless.
 */
export class ReadCache<V> {
  private readonly entries = new Map<string, { value: V; readAtMs: number }>();

  constructor(
    private readonly ctx: CacheContext,
    private readonly freshnessMs: number,
  ) {}

  async get(key: string, load: () => Promise<V>): Promise<V> {
    const nowMs = this.ctx.clock.now().getTime();
    const entry = this.entries.get(key);
    if (entry && nowMs - entry.readAtMs < this.freshnessMs) return entry.value;
    const value = await load();
    this.remember(key, value, nowMs);
    return value;
  }

  /** What this process has just learnt (a write it made): fresh from now on. */
  set(key: string, value: V): void {
    this.remember(key, value, this.ctx.clock.now().getTime());
  }

  forget(key: string): void {
    this.entries.delete(key);
  }

  private remember(key: string, value: V, readAtMs: number): void {
    setBounded(this.entries, key, { value, readAtMs }, ENTRIES_MAX);
  }
}

/** Sets a key as the newest entry of a map that drops its oldest beyond `entriesMax`. */
export function setBounded<K, V>(map: Map<K, V>, key: K, value: V, entriesMax: number): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > entriesMax) map.delete(map.keys().next().value!);
}

/**
 * One cache per application context (a test's second app stands for a second process),
 * its entries fresh for `database.readFreshnessMs` unless the use says otherwise.
 */
export function readCachePerContext<V>(freshnessMsOf = (config: AppConfig) => config.database.readFreshnessMs): (ctx: CacheContext) => ReadCache<V> {
  const caches = new WeakMap<CacheContext, ReadCache<V>>();
  return (ctx) => {
    let cache = caches.get(ctx);
    if (!cache) caches.set(ctx, (cache = new ReadCache<V>(ctx, freshnessMsOf(ctx.config))));
    return cache;
  };
}
