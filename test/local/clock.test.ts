import { VirtualClock } from '../../local/clock.js';

describe('VirtualClock', () => {
  it('jumps forward by what advance is given, and shares the jump through its skew', () => {
    const clock = new VirtualClock(1, Date.parse('2026-12-01T10:00:00Z'));
    const before = clock.nowMs();
    clock.advance(86_400_000);
    expect(clock.nowMs() - before).toBeGreaterThanOrEqual(86_400_000);
    expect(clock.nowMs() - before).toBeLessThan(86_400_000 + 1000);
    // What the functions' worker threads add to their own reading of the clock.
    expect(clock.skew[0]).toBe(86_400_000);
  });

  it('refuses to go back or to jump by a non-number', () => {
    const clock = new VirtualClock();
    expect(() => clock.advance(-1)).toThrow(RangeError);
    expect(() => clock.advance(Number.NaN)).toThrow(RangeError);
    expect(clock.skew[0]).toBe(0);
  });
});
