import { formatBytes, formatEta, formatRate, progressLine } from '../../functions/lib/bundle/progress.js';

function stream(isTTY: boolean): { isTTY: boolean; text: string; write(s: string): boolean } {
  return {
    isTTY,
    text: '',
    write(s: string) {
      this.text += s;
      return true;
    },
  };
}

describe('progressLine', () => {
  it('draws a bar with bytes, percentage, MB/s and ETA on a terminal, redrawn at most every interval', () => {
    let t = 0;
    const tty = stream(true);
    const p = progressLine(tty, 'bundling', 200, () => t);
    t = 2000;
    p.update(100e6, 400e6);
    t = 2100;
    p.update(150e6, 400e6); // within the redraw interval: skipped
    expect(tty.text).toBe('\r\x1b[2Kbundling [######------------------] 95.4 MiB / 381.5 MiB (25%)  50.0 MB/s  ETA 6s');
    expect(p.done()).toBe(2100);
    expect(tty.text.endsWith('\r\x1b[2K')).toBe(true);
  });

  it('writes plain lines every few seconds when not a terminal (a CI log), none at the end', () => {
    let t = 0;
    const pipe = stream(false);
    const p = progressLine(pipe, 'uploading', 200, () => t, { plainEveryMs: 5000 });
    t = 1000;
    p.update(10e6, 100e6); // before the first 5 s: nothing
    t = 5000;
    p.update(50e6, 100e6);
    t = 6000;
    p.update(60e6, 100e6); // within 5 s of the last line
    t = 10_000;
    p.update(100e6, 100e6); // finished: the command prints its own summary
    expect(pipe.text).toBe('uploading 47.7 MiB / 95.4 MiB (50%)  10.0 MB/s  ETA 5s\n');
    p.done();
    expect(pipe.text).not.toContain('\r');
  });

  it('prints nothing when quiet, on a terminal or not', () => {
    let t = 0;
    for (const s of [stream(true), stream(false)]) {
      const p = progressLine(s, 'verifying', 200, () => t, { quiet: true, plainEveryMs: 1 });
      t += 10_000;
      p.update(1e6, 2e6);
      p.update(2e6, 2e6);
      p.done();
      expect(s.text).toBe('');
    }
  });

  it('formats sizes, rates and ETAs', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatRate(0, 0)).toBe('0.0 MB/s');
    expect(formatEta(0, 100, 1000)).toBe('ETA ?');
    expect(formatEta(25, 100, 1000)).toBe('ETA 3s');
    expect(formatEta(1, 100, 1000)).toBe('ETA 1m 39s');
    expect(formatEta(100, 100, 1000)).toBe('ETA 0s');
  });
});
