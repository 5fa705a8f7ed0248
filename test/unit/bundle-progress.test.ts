import { formatBytes, formatRate, progressLine } from '../../functions/lib/bundle/progress.js';

describe('progressLine', () => {
  it('draws bytes, percentage and MB/s on a TTY, and nothing elsewhere', () => {
    let t = 0;
    const tty = {
      isTTY: true,
      text: '',
      write(s: string) {
        this.text += s;
        return true;
      },
    };
    const pipe = {
      isTTY: false,
      text: '',
      write(s: string) {
        this.text += s;
        return true;
      },
    };
    const a = progressLine(tty, 'bundling', 200, () => t);
    const b = progressLine(pipe, 'bundling', 200, () => t);
    t = 2000;
    a.update(100e6, 400e6);
    b.update(100e6, 400e6);
    t = 2100;
    a.update(150e6, 400e6); // within the redraw interval: skipped
    expect(tty.text).toBe('\r\x1b[2Kbundling 95.4 MiB / 381.5 MiB (25%)  50.0 MB/s');
    expect(a.done()).toBe(2100);
    expect(pipe.text).toBe('');
    expect(formatBytes(512)).toBe('512 B');
    expect(formatRate(0, 0)).toBe('0.0 MB/s');
  });
});
