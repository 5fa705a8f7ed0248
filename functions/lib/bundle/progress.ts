import { clock } from '../clock.js';

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

export interface ProgressOptions {
  /** No progress at all (`--quiet`). */
  quiet?: boolean;
  /** When the stream is not a terminal: one plain line at most this often (default 5 s). */
  plainEveryMs?: number;
}

const BAR_WIDTH = 24;

/** Seconds left at the rate so far, as `ETA 1m 05s`; `ETA ?` before there is a rate. */
export function formatEta(bytes: number, total: number, ms: number): string {
  if (bytes <= 0 || ms <= 0 || total <= bytes) return bytes >= total && total > 0 ? 'ETA 0s' : 'ETA ?';
  const left = Math.ceil(((total - bytes) / bytes) * (ms / 1000));
  return left < 60 ? `ETA ${left}s` : `ETA ${Math.floor(left / 60)}m ${String(left % 60).padStart(2, '0')}s`;
}

/**
 * Progress of a byte-counted job on `stream`: on a terminal a bar redrawn in place (at most every
 * `intervalMs`) with bytes, percentage, rate and ETA; elsewhere (a pipe, a CI log) the same facts
 * as a plain line every `plainEveryMs`; nothing when `quiet`. Times come from the factory clock
 * (functions/lib/clock.ts), like every other time the product reads.
 */
export function progressLine(
  stream: ProgressStream,
  label: string,
  intervalMs = 200,
  now: () => number = () => clock().now(),
  opts: ProgressOptions = {},
): ProgressLine {
  const start = now();
  const tty = stream.isTTY === true;
  const every = tty ? intervalMs : (opts.plainEveryMs ?? 5000);
  let last = start;
  let drawn = false;
  const facts = (bytes: number, total: number, t: number): string => {
    const pct = total > 0 ? ` (${Math.floor((bytes / total) * 100)}%)` : '';
    return `${formatBytes(bytes)} / ${formatBytes(total)}${pct}  ${formatRate(bytes, t - start)}  ${formatEta(bytes, total, t - start)}`;
  };
  return {
    update(bytes, total) {
      if (opts.quiet === true) return;
      const t = now();
      if (t - last < every && !(tty && bytes >= total)) return;
      last = t;
      if (tty) {
        const filled = total > 0 ? Math.min(BAR_WIDTH, Math.round((bytes / total) * BAR_WIDTH)) : 0;
        stream.write(`\r\x1b[2K${label} [${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${facts(bytes, total, t)}`);
        drawn = true;
      } else if (bytes < total) {
        stream.write(`${label} ${facts(bytes, total, t)}\n`);
      }
    },
    done() {
      if (drawn) stream.write('\r\x1b[2K');
      return now() - start;
    },
  };
}
