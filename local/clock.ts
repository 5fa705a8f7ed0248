/**
 * The local cloud's clock. EC2 durations (an image taking 5 minutes to become available)
 * are modelled in simulated time; `timeScale` is how many simulated milliseconds pass per
 * real millisecond, so a demo or test can compress an hour of EC2 work into a second.
 *
 * Simulated time starts at the real time when the clock is made and runs `timeScale`
 * times faster; successive runs of the local cloud therefore never go back in time.
 */
export class VirtualClock {
  private readonly realStart: number;
  private readonly virtualStart: number;
  /**
   * Simulated milliseconds added by `advance`, in shared memory so that the functions' execution
   * environments (worker threads, local/lambda/sandbox.mjs) see the same jump.
   */
  readonly skew = new Float64Array(new SharedArrayBuffer(8));

  constructor(
    readonly timeScale = 1,
    startAt: number = Date.now(),
  ) {
    if (!(timeScale > 0) || !Number.isFinite(timeScale)) {
      throw new RangeError(`timeScale must be a positive finite number, got ${timeScale}`);
    }
    this.realStart = Date.now();
    this.virtualStart = startAt;
  }

  /** Simulated epoch milliseconds. */
  nowMs(): number {
    return this.virtualStart + (Date.now() - this.realStart) * this.timeScale + (this.skew[0] ?? 0);
  }

  /**
   * Jumps simulated time forward (tests: a wait that lasts a day without waiting a day). Timers
   * already running keep their real-time deadlines; only what reads the clock sees the jump.
   */
  advance(simulatedMs: number): void {
    if (!(simulatedMs >= 0) || !Number.isFinite(simulatedMs))
      throw new RangeError(`advance needs a non-negative finite number, got ${simulatedMs}`);
    this.skew[0] = (this.skew[0] ?? 0) + simulatedMs;
  }

  now(): Date {
    return new Date(this.nowMs());
  }

  /** Real milliseconds that correspond to `simulatedMs` of simulated time. */
  toRealMs(simulatedMs: number): number {
    return Math.max(0, simulatedMs / this.timeScale);
  }

  /** Resolves after `simulatedMs` of simulated time. */
  sleep(simulatedMs: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, this.toRealMs(simulatedMs)));
  }
}
