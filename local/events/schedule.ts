/**
 * EventBridge rule schedules, evaluated in UTC:
 * - `rate(N minute|minutes|hour|hours|day|days)` (singular unit exactly when N is 1);
 * - `cron(minutes hours day-of-month month day-of-week year)`, EventBridge's six fields:
 *   `*`, `,`, `-` (wrapping ranges allowed), `/`, `?` (exactly one of day-of-month and
 *   day-of-week is `?`), month names JAN-DEC, day names SUN-SAT (1 = SUN), `L` (last day of
 *   the month; `nL` last weekday n of the month) and `n#k` (k-th weekday n). `W` is not
 *   supported by the local cloud.
 */
export class ScheduleExpressionError extends Error {
  override name = 'ValidationException';
  constructor(reason: string) {
    super(`Parameter ScheduleExpression is not valid. Reason: ${reason}`);
  }
}

export interface RateSchedule {
  kind: 'rate';
  periodMs: number;
}

export interface CronSchedule {
  kind: 'cron';
  minutes: Set<number>;
  hours: Set<number>;
  months: Set<number>;
  years: Set<number>;
  /** null when day-of-month is `?`. */
  dom: { days: Set<number>; last: boolean } | null;
  /** null when day-of-week is `?`. */
  dow: { days: Set<number>; last: Set<number>; nth: { day: number; n: number }[] } | null;
}

export type Schedule = RateSchedule | CronSchedule;

const MINUTE = 60_000;
const UNITS: Record<string, number> = { minute: MINUTE, hour: 60 * MINUTE, day: 24 * 60 * MINUTE };
const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];
const MIN_YEAR = 1970;
const MAX_YEAR = 2199;

export function parseSchedule(expression: string): Schedule {
  const rate = /^rate\(\s*(\d+)\s+([a-z]+)\s*\)$/.exec(expression);
  if (rate !== null) {
    const n = Number(rate[1]);
    const unit = rate[2] as string;
    const singular = unit.endsWith('s') ? unit.slice(0, -1) : unit;
    const ms = UNITS[singular];
    if (ms === undefined) throw new ScheduleExpressionError(`unknown rate unit ${unit}`);
    if (!Number.isSafeInteger(n) || n < 1) throw new ScheduleExpressionError('the rate value must be a positive integer');
    if ((n === 1) !== (singular === unit))
      throw new ScheduleExpressionError(`use "${singular}" for a value of 1 and "${singular}s" otherwise`);
    return { kind: 'rate', periodMs: n * ms };
  }
  const cron = /^cron\((.*)\)$/.exec(expression);
  if (cron === null) throw new ScheduleExpressionError('expected rate(...) or cron(...)');
  return parseCron((cron[1] as string).trim());
}

function parseCron(body: string): CronSchedule {
  const fields = body.split(/\s+/);
  if (fields.length !== 6) throw new ScheduleExpressionError('cron needs six fields: minutes hours day-of-month month day-of-week year');
  const [min, hour, dom, month, dow, year] = fields as [string, string, string, string, string, string];
  if ((dom === '?') === (dow === '?')) {
    throw new ScheduleExpressionError('exactly one of day-of-month and day-of-week must be "?"');
  }
  const out: CronSchedule = {
    kind: 'cron',
    minutes: parseField(min, 0, 59, 'minutes'),
    hours: parseField(hour, 0, 23, 'hours'),
    months: parseField(month, 1, 12, 'month', MONTHS),
    years: parseField(year, MIN_YEAR, MAX_YEAR, 'year'),
    dom: null,
    dow: null,
  };
  if (dom !== '?') {
    const terms = dom.split(',');
    const last = terms.includes('L');
    const rest = terms.filter((t) => t !== 'L');
    if (rest.some((t) => t.includes('W'))) throw new ScheduleExpressionError('"W" in day-of-month is not supported by the local cloud');
    out.dom = { days: rest.length > 0 ? parseField(rest.join(','), 1, 31, 'day-of-month') : new Set(), last };
  }
  if (dow !== '?') {
    const spec: NonNullable<CronSchedule['dow']> = { days: new Set(), last: new Set(), nth: [] };
    const plain: string[] = [];
    for (const t of dow.split(',')) {
      const nth = /^([A-Za-z]{3}|\d)#([1-5])$/.exec(t);
      const last = /^([A-Za-z]{3}|\d)L$/.exec(t);
      if (nth !== null) spec.nth.push({ day: value(nth[1] as string, 1, 7, 'day-of-week', DAYS), n: Number(nth[2]) });
      else if (last !== null) spec.last.add(value(last[1] as string, 1, 7, 'day-of-week', DAYS));
      else if (t === 'L') spec.last.add(7);
      else plain.push(t);
    }
    if (plain.length > 0) spec.days = parseField(plain.join(','), 1, 7, 'day-of-week', DAYS);
    out.dow = spec;
  }
  return out;
}

function value(token: string, lo: number, hi: number, field: string, names?: string[]): number {
  const named = names?.indexOf(token.toUpperCase()) ?? -1;
  const n = named >= 0 ? named + 1 : /^\d+$/.test(token) ? Number(token) : NaN;
  if (!(n >= lo && n <= hi)) throw new ScheduleExpressionError(`${field}: "${token}" is not in ${lo}-${hi}`);
  return n;
}

function parseField(text: string, lo: number, hi: number, field: string, names?: string[]): Set<number> {
  const out = new Set<number>();
  for (const term of text.split(',')) {
    if (term === '') throw new ScheduleExpressionError(`${field}: empty list item`);
    const [range, stepText, ...extra] = term.split('/');
    if (range === undefined || extra.length > 0) throw new ScheduleExpressionError(`${field}: "${term}"`);
    const step = stepText === undefined ? 1 : /^\d+$/.test(stepText) && Number(stepText) > 0 ? Number(stepText) : NaN;
    if (Number.isNaN(step)) throw new ScheduleExpressionError(`${field}: bad increment in "${term}"`);
    let start: number;
    let end: number;
    if (range === '*') {
      start = lo;
      end = hi;
    } else if (range.includes('-')) {
      const [a, b, ...more] = range.split('-');
      if (a === undefined || b === undefined || more.length > 0) throw new ScheduleExpressionError(`${field}: "${term}"`);
      start = value(a, lo, hi, field, names);
      end = value(b, lo, hi, field, names);
    } else {
      start = value(range, lo, hi, field, names);
      // `5/15`: from 5 to the end of the range, every 15.
      end = stepText === undefined ? start : hi;
    }
    const span = end >= start ? end - start : hi - start + 1 + (end - lo);
    for (let i = 0; i <= span; i += step) {
      const v = start + i;
      out.add(v > hi ? v - (hi - lo + 1) : v);
    }
  }
  return out;
}

/** The first firing strictly after `afterMs` (epoch ms); for a rate, phase-locked to `anchorMs`. */
export function nextFireAfter(schedule: Schedule, afterMs: number, anchorMs = afterMs): number | undefined {
  if (schedule.kind === 'rate') {
    const p = schedule.periodMs;
    const k = Math.floor((afterMs - anchorMs) / p) + 1;
    return anchorMs + Math.max(1, k) * p;
  }
  return nextCron(schedule, afterMs);
}

/** The latest due firing at or before `nowMs` once a firing was missed (for a rate, still phase-locked). */
export function latestDue(schedule: Schedule, anchorMs: number, nowMs: number): number {
  if (schedule.kind === 'rate') {
    const p = schedule.periodMs;
    return anchorMs + Math.max(0, Math.floor((nowMs - anchorMs) / p)) * p;
  }
  return Math.floor(nowMs / MINUTE) * MINUTE;
}

function dayMatches(s: CronSchedule, y: number, m0: number, d: number): boolean {
  const lastDay = new Date(Date.UTC(y, m0 + 1, 0)).getUTCDate();
  if (s.dom !== null) return s.dom.days.has(d) || (s.dom.last && d === lastDay);
  if (s.dow !== null) {
    const wd = new Date(Date.UTC(y, m0, d)).getUTCDay() + 1;
    if (s.dow.days.has(wd)) return true;
    if (s.dow.last.has(wd) && d + 7 > lastDay) return true;
    return s.dow.nth.some((x) => x.day === wd && Math.ceil(d / 7) === x.n);
  }
  return false;
}

function nextCron(s: CronSchedule, afterMs: number): number | undefined {
  let t = Math.floor(afterMs / MINUTE) * MINUTE + MINUTE;
  // Each step skips at least a minute and at most to the next year; bounded by MAX_YEAR.
  for (let guard = 0; guard < 1_000_000; guard++) {
    const d = new Date(t);
    const y = d.getUTCFullYear();
    const mo = d.getUTCMonth();
    const day = d.getUTCDate();
    const h = d.getUTCHours();
    if (y > MAX_YEAR) return undefined;
    if (!s.years.has(y)) {
      t = Date.UTC(y + 1, 0, 1);
    } else if (!s.months.has(mo + 1)) {
      t = Date.UTC(y, mo + 1, 1);
    } else if (!dayMatches(s, y, mo, day)) {
      t = Date.UTC(y, mo, day + 1);
    } else if (!s.hours.has(h)) {
      t = Date.UTC(y, mo, day, h + 1);
    } else if (!s.minutes.has(d.getUTCMinutes())) {
      t += MINUTE;
    } else {
      return t;
    }
  }
  return undefined;
}
