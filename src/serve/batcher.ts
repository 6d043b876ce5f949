/**
 * Concurrent requests scored in one forward pass: a network's cost per picture falls steeply with the batch, so
 * the service collects what arrives within a few milliseconds (or until a batch is full) and runs it once.
 */
export interface BatcherOptions {
  /** Items run together at most. */
  maxBatch: number;
  /** How long the first item of a batch waits for company. */
  maxWaitMs: number;
}

interface Waiting<I, O> {
  item: I;
  resolve: (out: O) => void;
  reject: (err: unknown) => void;
}

export class MicroBatcher<I, O> {
  private queue: Waiting<I, O>[] = [];
  private timer: NodeJS.Timeout | null = null;
  /** Batches run and items scored: the service's /healthz shows them, tests check batching happened. */
  readonly stats = { batches: 0, items: 0, largest: 0 };

  /** `run` takes a batch and returns one output per item, in order; a throw fails every item of that batch. */
  constructor(private readonly run: (items: I[]) => O[], private readonly opts: BatcherOptions) {}

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (this.queue.length >= this.opts.maxBatch) this.flush();
      else if (!this.timer) this.timer = setTimeout(() => this.flush(), this.opts.maxWaitMs);
    });
  }

  /** Items waiting for their batch. */
  get waiting(): number {
    return this.queue.length;
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const batch = this.queue.splice(0, this.opts.maxBatch);
    if (batch.length > 0) {
      this.stats.batches++;
      this.stats.items += batch.length;
      this.stats.largest = Math.max(this.stats.largest, batch.length);
      try {
        const out = this.run(batch.map((w) => w.item));
        batch.forEach((w, i) => w.resolve(out[i]));
      } catch (err) {
        batch.forEach((w) => w.reject(err));
      }
    }
    if (this.queue.length > 0) this.timer = setTimeout(() => this.flush(), this.opts.maxWaitMs);
  }
}

/** At most `limit` tasks at once (picture decoding: each holds a whole decoded picture in memory). */
export class Semaphore {
  private active = 0;
  private readonly waiters: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  async use<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiters.push(resolve));
    else this.active++;
    try {
      return await task();
    } finally {
      const next = this.waiters.shift();
      if (next) next(); // the slot passes straight on
      else this.active--;
    }
  }
}
