// "Now" is injected so tests can move it across cut-offs, weekends and holidays.

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = {
  now: () => new Date(),
};

/**
 * The system clock moved by `offsetMs` (config clock.offsetMs): lets a chaos run's processes
 * cross Beijing midnight while they run, all on the same shifted "now".
 */
export function offsetClock(offsetMs: number): Clock {
  if (offsetMs === 0) return systemClock;
  return { now: () => new Date(Date.now() + offsetMs) };
}

/** A clock that stands still until a test moves it. */
export class FixedClock implements Clock {
  #epochMs: number;

  constructor(start: Date | string) {
    this.#epochMs = FixedClock.#toEpochMs(start);
  }

  now(): Date {
    return new Date(this.#epochMs); // a copy, so callers cannot move the clock
  }

  set(instant: Date | string): void {
    this.#epochMs = FixedClock.#toEpochMs(instant);
  }

  advance(durationMs: number): void {
    if (!Number.isFinite(durationMs)) throw new RangeError(`FixedClock: bad duration ${durationMs}`);
    this.#epochMs += durationMs;
  }

  static #toEpochMs(instant: Date | string): number {
    const epochMs = new Date(instant).getTime();
    if (Number.isNaN(epochMs)) throw new RangeError(`FixedClock: invalid instant ${String(instant)}`);
    return epochMs;
  }
}

/**
 * The system clock moved by an offset that only grows: the sandbox's test clock
 * (src/sandbox). It runs on with real time, so leases, locks and jobs keep working.
 */
export class TestClock implements Clock {
  #offsetMs: number;

  constructor(offsetMs: number) {
    if (!Number.isSafeInteger(offsetMs)) throw new RangeError(`TestClock: bad offset ${offsetMs}`);
    this.#offsetMs = offsetMs;
  }

  now(): Date {
    return new Date(Date.now() + this.#offsetMs);
  }

  get offsetMs(): number {
    return this.#offsetMs;
  }

  /** Moves to an offset; never back, so no instant the service handed out is ever seen again. */
  moveToOffset(offsetMs: number): void {
    if (!Number.isSafeInteger(offsetMs) || offsetMs < this.#offsetMs) throw new RangeError(`TestClock: cannot move back to offset ${offsetMs}`);
    this.#offsetMs = offsetMs;
  }
}
