/** Byte-count progress for the bundle commands: a live line on a TTY, nothing otherwise. */

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u += 1;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}

/** Decimal megabytes per second, as `gzip`/`pv` users expect. */
export function formatRate(bytes: number, ms: number): string {
  return `${(ms <= 0 ? 0 : bytes / 1e6 / (ms / 1000)).toFixed(1)} MB/s`;
}

export interface ProgressLine {
  update(bytes: number, total: number): void;
  /** Clears the line; returns the elapsed milliseconds. */
  done(): number;
}

export interface ProgressStream {
  isTTY?: boolean;
  write(s: string): boolean;
}

/**
 * A progress line on `stream` (redrawn at most every `intervalMs`) when it is a TTY. Rates are of
 * the work itself, so they are timed with the monotonic `performance.now()`, not the factory clock.
 */
export function progressLine(
  stream: ProgressStream,
  label: string,
  intervalMs = 200,
  now: () => number = () => performance.now(),
): ProgressLine {
  const start = now();
  let last = 0;
  let drawn = false;
  return {
    update(bytes, total) {
      if (stream.isTTY !== true) return;
      const t = now();
      if (t - last < intervalMs && bytes < total) return;
      last = t;
      const pct = total > 0 ? ` (${Math.floor((bytes / total) * 100)}%)` : '';
      stream.write(`\r\x1b[2K${label} ${formatBytes(bytes)} / ${formatBytes(total)}${pct}  ${formatRate(bytes, t - start)}`);
      drawn = true;
    },
    done() {
      if (drawn) stream.write('\r\x1b[2K');
      return now() - start;
    },
  };
}
