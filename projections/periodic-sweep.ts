// Work a consumer does besides its batches, every `everyMs` and on demand:
// one run at a time (a call while one runs joins it), a timed run's error
// handed to `onError`, and stop() waiting for the run under way.
export class PeriodicSweep {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(private work: () => Promise<void>, private everyMs: number, private onError: (err: unknown) => void) {}

  start(): void {
    this.timer ??= setInterval(() => void this.run().catch(this.onError), this.everyMs);
    this.timer.unref();
  }

  run(): Promise<void> {
    this.running ??= this.work().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }
}
