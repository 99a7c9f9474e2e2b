const ignore = () => undefined;

interface KeyReads<V> {
  running: Promise<V>;
  /** The read every request that asked while `running` ran shares: it starts when `running` ends. */
  next: Promise<V> | null;
}

/**
 * A read of one hot document (a fund's book, a reserve lease) that concurrent requests of a
 * process share, each still answered by a read that started after it asked: what it learns is
 * as fresh as a read of its own. While a read of a key runs, every request for that key waits
 * for the one read that starts when it ends. So however many requests want the document, at
 * most two reads of it are under way, where each request used to send its own (on FerretDB a
 * read costs about what a guarded update does).
 */
export class SharedFreshRead<V> {
  private readonly reads = new Map<string, KeyReads<V>>();

  constructor(private readonly load: (key: string) => Promise<V>) {}

  read(key: string): Promise<V> {
    const reads = this.reads.get(key);
    if (!reads) return this.start(key);
    reads.next ??= reads.running.then(ignore, ignore).then(() => this.start(key));
    return reads.next;
  }

  private start(key: string): Promise<V> {
    // A load that throws at once still ends as a rejected read, never leaving the key stuck.
    const reads: KeyReads<V> = { running: Promise.resolve().then(() => this.load(key)), next: null };
    this.reads.set(key, reads);
    const forget = () => {
      if (this.reads.get(key) === reads && reads.next === null) this.reads.delete(key);
    };
    reads.running.then(forget, forget);
    return reads.running;
  }
}
