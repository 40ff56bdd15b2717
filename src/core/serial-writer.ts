/**
 * One write at a time, each of the state as it is when that write starts.
 *
 * Why: two writes of a whole state in flight at once (two activities, say) can land in either
 * order, and when the older state lands last it stays — a rollout's two replacements in one batch
 * each took their container out of the app's names at once, and one of them could stay published
 * while it was stopped. Here a caller that asks while a write is in flight shares the next write,
 * which starts when that one ends and reads the state then (its own change included), so the last
 * write to land is always of the newest state.
 *
 * Plain promises and no clock: deterministic, usable in workflow code.
 */
export class SerialWriter {
  private running: Promise<void> | undefined;
  private queued: Promise<void> | undefined;

  constructor(private readonly write: () => Promise<void>) {}

  /** Resolves once a write that started after this call has landed; rejects with that write's failure. */
  request(): Promise<void> {
    if (this.queued) return this.queued;
    const running = this.running;
    if (!running) return this.start();
    const settled = running.then(
      () => undefined,
      () => undefined,
    );
    this.queued = settled.then(() => {
      this.queued = undefined;
      return this.start();
    });
    return this.queued;
  }

  private start(): Promise<void> {
    const run: Promise<void> = this.write().finally(() => {
      if (this.running === run) this.running = undefined;
    });
    this.running = run;
    return run;
  }
}
