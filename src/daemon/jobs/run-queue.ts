// joblet.maxConcurrentJobs: jobs that would exceed it wait here, first come first served, and
// start as running jobs end. The queue is bounded (joblet.maxQueuedJobs) so a flood of requests
// is refused (RESOURCE_EXHAUSTED) instead of growing without limit.
export class RunQueue {
  private readonly waiting: string[] = [];
  private running = 0;

  constructor(
    readonly maxRunning: number,
    readonly maxQueued: number,
  ) {}

  /** Takes a slot when one is free. */
  tryStart(): boolean {
    if (this.running >= this.maxRunning) return false;
    this.running++;
    return true;
  }

  /** A running job ended: its slot is free. */
  release(): void {
    if (this.running > 0) this.running--;
  }

  /** The next waiting job, with a slot taken for it; undefined when none can start. */
  next(): string | undefined {
    if (this.running >= this.maxRunning || this.waiting.length === 0) return undefined;
    this.running++;
    return this.waiting.shift();
  }

  get full(): boolean {
    return this.waiting.length >= this.maxQueued;
  }

  enqueue(uuid: string): void {
    this.waiting.push(uuid);
  }

  remove(uuid: string): boolean {
    const i = this.waiting.indexOf(uuid);
    if (i >= 0) this.waiting.splice(i, 1);
    return i >= 0;
  }

  /** 1 = next to start; 0 = not waiting. */
  position(uuid: string): number {
    return this.waiting.indexOf(uuid) + 1;
  }

  get queued(): number {
    return this.waiting.length;
  }

  get active(): number {
    return this.running;
  }
}
