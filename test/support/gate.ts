import type { FaultPoints } from '../../src/context.ts';

/** A point where a request stops until the test opens it: `reached` resolves once a request waits there. */
export class Gate {
  readonly reached: Promise<void>;
  readonly #opened: Promise<void>;
  #markReached: () => void = () => {};
  #open: () => void = () => {};

  constructor() {
    this.reached = new Promise((resolve) => (this.#markReached = resolve));
    this.#opened = new Promise((resolve) => (this.#open = resolve));
  }

  /** The held request's side: waits until the test opens the gate. */
  async pass(): Promise<void> {
    this.#markReached();
    await this.#opened;
  }

  open(): void {
    this.#open();
  }
}

/** Fault points a test holds: the next pass through a held point waits at its gate, once. */
export class HeldFaults implements FaultPoints {
  readonly #gates = new Map<string, Gate>();

  hold(point: string): Gate {
    const gate = new Gate();
    this.#gates.set(point, gate);
    return gate;
  }

  async hit(point: string): Promise<void> {
    const gate = this.#gates.get(point);
    if (!gate) return;
    this.#gates.delete(point);
    await gate.pass();
  }
}
