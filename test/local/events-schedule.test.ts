import { latestDue, nextFireAfter, parseSchedule, ScheduleExpressionError } from '../../local/events/schedule.js';

const at = (iso: string): number => Date.parse(iso);
const next = (expression: string, afterIso: string): string | undefined => {
  const t = nextFireAfter(parseSchedule(expression), at(afterIso));
  return t === undefined ? undefined : new Date(t).toISOString();
};

describe('EventBridge cron schedules (UTC)', () => {
  // 2026-01-01 is a Thursday.
  it.each([
    ['every day at noon, later today', 'cron(0 12 * * ? *)', '2026-01-01T11:59:30Z', '2026-01-01T12:00:00.000Z'],
    ['every day at noon, strictly after a firing', 'cron(0 12 * * ? *)', '2026-01-01T12:00:00Z', '2026-01-02T12:00:00.000Z'],
    ['weekdays (names), over a weekend', 'cron(15 10 ? * MON-FRI *)', '2026-01-02T10:15:00Z', '2026-01-05T10:15:00.000Z'],
    ['weekdays (numbers, 1 = SUN)', 'cron(15 10 ? * 2-6 *)', '2026-01-03T00:00:00Z', '2026-01-05T10:15:00.000Z'],
    ['every 15 minutes from 0', 'cron(0/15 * * * ? *)', '2026-01-01T10:07:00Z', '2026-01-01T10:15:00.000Z'],
    ['every 15 minutes, over the hour', 'cron(0/15 * * * ? *)', '2026-01-01T10:45:00Z', '2026-01-01T11:00:00.000Z'],
    ['*/10 with a list of hours', 'cron(*/10 8,17 * * ? *)', '2026-01-01T08:55:00Z', '2026-01-01T17:00:00.000Z'],
    ['range with an increment', 'cron(5-20/5 9 * * ? *)', '2026-01-01T09:16:00Z', '2026-01-01T09:20:00.000Z'],
    ['third Friday (#)', 'cron(0 18 ? * 6#3 *)', '2026-01-01T00:00:00Z', '2026-01-16T18:00:00.000Z'],
    ['second Monday by name', 'cron(0 9 ? * MON#2 *)', '2026-01-13T00:00:00Z', '2026-02-09T09:00:00.000Z'],
    ['last day of the month (L)', 'cron(0 0 L * ? *)', '2026-02-10T00:00:00Z', '2026-02-28T00:00:00.000Z'],
    ['last Friday of the month (6L)', 'cron(0 0 ? * 6L *)', '2026-01-01T00:00:00Z', '2026-01-30T00:00:00.000Z'],
    ['month names and a year', 'cron(0 8 1 JAN,JUL ? 2027)', '2026-03-01T00:00:00Z', '2027-01-01T08:00:00.000Z'],
    ['a wrapping hour range', 'cron(0 22-2 * * ? *)', '2026-01-01T23:30:00Z', '2026-01-02T00:00:00.000Z'],
    ['a wrapping day range by name', 'cron(0 9 ? * FRI-MON *)', '2026-01-06T00:00:00Z', '2026-01-09T09:00:00.000Z'],
    ['a wrapping range with an increment', 'cron(0 22-2/2 * * ? *)', '2026-01-01T22:30:00Z', '2026-01-02T00:00:00.000Z'],
    ['nearest weekday to the 15th (W), a Sunday', 'cron(0 8 15W * ? *)', '2026-02-01T00:00:00Z', '2026-02-16T08:00:00.000Z'],
    ['nearest weekday to the 15th (W), a weekday', 'cron(0 8 15W * ? *)', '2026-01-01T00:00:00Z', '2026-01-15T08:00:00.000Z'],
    ['lower-case names', 'cron(0 8 ? jan mon *)', '2026-01-01T00:00:00Z', '2026-01-05T08:00:00.000Z'],
    ['29 February', 'cron(0 0 29 2 ? *)', '2026-03-01T00:00:00Z', '2028-02-29T00:00:00.000Z'],
    ['a day that never comes', 'cron(0 0 31 2 ? *)', '2026-01-01T00:00:00Z', undefined],
    ['after its last year', 'cron(0 0 1 1 ? 2020)', '2026-01-01T00:00:00Z', undefined],
  ])('%s: %s after %s → %s', (_d, expression, after, expected) => {
    expect(next(expression, after)).toBe(expected);
  });

  it.each([
    ['both day fields set', 'cron(0 12 * * * *)'],
    ['both day fields "?"', 'cron(0 12 ? * ? *)'],
    ['five fields', 'cron(0 12 * * ?)'],
    ['minute out of range', 'cron(60 12 * * ? *)'],
    ['unknown month name', 'cron(0 12 ? FOO MON *)'],
    ['year out of range', 'cron(0 12 * * ? 2200)'],
    ['zero increment', 'cron(0/0 12 * * ? *)'],
    ['W in day-of-week', 'cron(0 12 ? * 2W *)'],
    ['# in day-of-month', 'cron(0 12 1#2 * ? *)'],
    ['an increment without a start', 'cron(/10 12 * * ? *)'],
    ['seconds (a seventh field)', 'cron(0 0 12 * * ? *)'],
    ['L with an offset', 'cron(0 12 L-2 * ? *)'],
    ['rate with a plural unit for 1', 'rate(1 minutes)'],
    ['rate with a singular unit for 5', 'rate(5 minute)'],
    ['rate of zero', 'rate(0 minutes)'],
    ['rate in weeks', 'rate(2 weeks)'],
    ['an at() expression (EventBridge Scheduler, not rules)', 'at(2026-01-01T00:00:00)'],
  ])('rejects %s: %s', (_d, expression) => {
    expect(() => parseSchedule(expression)).toThrow(ScheduleExpressionError);
  });
});

describe('EventBridge rate schedules', () => {
  it('parses minutes, hours and days', () => {
    expect(parseSchedule('rate(1 minute)')).toEqual({ kind: 'rate', periodMs: 60_000 });
    expect(parseSchedule('rate(5 minutes)')).toEqual({ kind: 'rate', periodMs: 300_000 });
    expect(parseSchedule('rate(2 hours)')).toEqual({ kind: 'rate', periodMs: 7_200_000 });
    expect(parseSchedule('rate(1 day)')).toEqual({ kind: 'rate', periodMs: 86_400_000 });
  });

  it('keeps the phase of its anchor (the rule creation)', () => {
    const s = parseSchedule('rate(5 minutes)');
    const anchor = at('2026-01-01T00:01:00Z');
    expect(nextFireAfter(s, anchor, anchor)).toBe(at('2026-01-01T00:06:00Z'));
    expect(nextFireAfter(s, at('2026-01-01T00:06:00Z'), anchor)).toBe(at('2026-01-01T00:11:00Z'));
    expect(nextFireAfter(s, at('2026-01-01T00:07:30Z'), anchor)).toBe(at('2026-01-01T00:11:00Z'));
  });

  it('collapses missed firings into the latest one that was due', () => {
    const s = parseSchedule('rate(5 minutes)');
    const anchor = at('2026-01-01T00:01:00Z');
    expect(latestDue(s, anchor, at('2026-01-01T03:03:00Z'))).toBe(at('2026-01-01T03:01:00Z'));
    expect(latestDue(parseSchedule('cron(0 * * * ? *)'), anchor, at('2026-01-01T03:03:20Z'))).toBe(at('2026-01-01T03:03:00Z'));
  });
});
