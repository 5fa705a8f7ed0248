import { Cron } from 'croner';

/**
 * EventBridge rule schedules, evaluated in UTC:
 * - `rate(N minute|minutes|hour|hours|day|days)` (singular unit exactly when N is 1) — parsed
 *   here: no library knows EventBridge's rate expressions;
 * - `cron(minutes hours day-of-month month day-of-week year)`, EventBridge's six fields, run by
 *   croner (UTC, Quartz weekday numbers: 1 = SUN … 7 = SAT; seconds fixed at 0). What croner
 *   does not check, or reads otherwise, is done here first: six fields, exactly one of
 *   day-of-month and day-of-week `?` (croner takes it as `*`), each term in EventBridge's
 *   syntax (`*`, `,`, `-`, `/`, names JAN-DEC and SUN-SAT, `L`, `nW` in day-of-month, `nL`
 *   and `n#k` in day-of-week), years 1970-2199, and ranges that wrap (`22-2`, `FRI-MON`),
 *   which are spelled out as lists for croner.
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
  /** The six fields as given. */
  expression: string;
  cron: Cron;
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

interface FieldSpec {
  name: string;
  lo: number;
  hi: number;
  names?: string[];
  /** Terms besides values, ranges and increments that the field accepts. */
  special?: RegExp;
}

const FIELDS: FieldSpec[] = [
  { name: 'minutes', lo: 0, hi: 59 },
  { name: 'hours', lo: 0, hi: 23 },
  { name: 'day-of-month', lo: 1, hi: 31, special: /^(L|\d{1,2}W)$/ },
  { name: 'month', lo: 1, hi: 12, names: MONTHS },
  { name: 'day-of-week', lo: 1, hi: 7, names: DAYS, special: /^(L|([A-Za-z]{3}|\d)(L|#[1-5]))$/ },
  { name: 'year', lo: MIN_YEAR, hi: MAX_YEAR },
];

function parseCron(body: string): CronSchedule {
  const fields = body.split(/\s+/);
  if (fields.length !== 6) throw new ScheduleExpressionError('cron needs six fields: minutes hours day-of-month month day-of-week year');
  const [, , dom, , dow] = fields as [string, string, string, string, string, string];
  if ((dom === '?') === (dow === '?')) {
    throw new ScheduleExpressionError('exactly one of day-of-month and day-of-week must be "?"');
  }
  const forCroner = fields.map((f, i) => (f === '?' ? '*' : normalizeField(f, FIELDS[i] as FieldSpec)));
  let cron: Cron;
  try {
    cron = new Cron(`0 ${forCroner.join(' ')}`, { mode: '7-part', timezone: 'UTC', alternativeWeekdays: true, sloppyRanges: true });
  } catch (e) {
    throw new ScheduleExpressionError(e instanceof Error ? e.message : String(e));
  }
  return { kind: 'cron', expression: body, cron };
}

function value(token: string, spec: FieldSpec): number {
  const named = spec.names?.indexOf(token.toUpperCase()) ?? -1;
  const n = named >= 0 ? named + 1 : /^\d+$/.test(token) ? Number(token) : NaN;
  if (!(n >= spec.lo && n <= spec.hi)) throw new ScheduleExpressionError(`${spec.name}: "${token}" is not in ${spec.lo}-${spec.hi}`);
  return n;
}

/** Checks each term of a field against EventBridge's syntax; spells out ranges that wrap. */
function normalizeField(text: string, spec: FieldSpec): string {
  return text
    .split(',')
    .map((term) => {
      if (term === '') throw new ScheduleExpressionError(`${spec.name}: empty list item`);
      if (spec.special?.test(term) === true) return term;
      const m = /^(\*|[A-Za-z0-9]+)(?:-([A-Za-z0-9]+))?(?:\/(\d+))?$/.exec(term);
      if (m === null) throw new ScheduleExpressionError(`${spec.name}: "${term}"`);
      const [, from, to, stepText] = m as unknown as [string, string, string | undefined, string | undefined];
      if (stepText !== undefined && Number(stepText) < 1) throw new ScheduleExpressionError(`${spec.name}: bad increment in "${term}"`);
      if (from === '*') {
        if (to !== undefined) throw new ScheduleExpressionError(`${spec.name}: "${term}"`);
        return term;
      }
      const start = value(from, spec);
      if (to === undefined) return term;
      const end = value(to, spec);
      if (end >= start) return term;
      // A range that wraps (22-2, FRI-MON): its values, as EventBridge counts them.
      const step = stepText === undefined ? 1 : Number(stepText);
      const span = spec.hi - start + 1 + (end - spec.lo);
      const values: number[] = [];
      for (let i = 0; i <= span; i += step) {
        const v = start + i;
        values.push(v > spec.hi ? v - (spec.hi - spec.lo + 1) : v);
      }
      return values.join(',');
    })
    .join(',');
}

/** The first firing strictly after `afterMs` (epoch ms); for a rate, phase-locked to `anchorMs`. */
export function nextFireAfter(schedule: Schedule, afterMs: number, anchorMs = afterMs): number | undefined {
  if (schedule.kind === 'rate') {
    const p = schedule.periodMs;
    const k = Math.floor((afterMs - anchorMs) / p) + 1;
    return anchorMs + Math.max(1, k) * p;
  }
  const next = schedule.cron.nextRun(new Date(afterMs));
  return next === null ? undefined : next.getTime();
}

/** The latest due firing at or before `nowMs` once a firing was missed (for a rate, still phase-locked). */
export function latestDue(schedule: Schedule, anchorMs: number, nowMs: number): number {
  if (schedule.kind === 'rate') {
    const p = schedule.periodMs;
    return anchorMs + Math.max(0, Math.floor((nowMs - anchorMs) / p)) * p;
  }
  return Math.floor(nowMs / MINUTE) * MINUTE;
}
