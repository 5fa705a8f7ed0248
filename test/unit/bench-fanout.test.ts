import { fanoutLowerBound, shareAccounts } from '../../bench/fanout.bench.js';
import type { Ec2CallLogEntry } from '../../local/ec2/service.js';

const call = (region: string, action: string, throttled = false): Ec2CallLogEntry => ({ atMs: 0, region, action, throttled });
const times = (n: number, c: Ec2CallLogEntry): Ec2CallLogEntry[] => Array.from({ length: n }, () => c);

describe('fanout bench arithmetic', () => {
  it('bounds a fan-out by the image and copy times when every bucket is within its capacity', () => {
    const calls = [call('us-west-2', 'CopyImage'), call('us-west-2', 'ModifyImageAttribute'), call('us-east-1', 'ModifyImageAttribute')];
    expect(fanoutLowerBound(calls, ['us-west-2', 'eu-west-1'], 'us-east-1', 300, 600)).toMatchObject({
      seconds: 900,
      copyTermS: 0,
      shareTermS: 0,
    });
  });

  it("adds each region's CopyImage (100 / 1) and ModifyImageAttribute (100 / 5) terms, throttled calls left out", () => {
    const calls = [
      ...times(130, call('eu-west-1', 'CopyImage')),
      ...times(50, call('eu-west-1', 'CopyImage', true)),
      ...times(150, call('eu-west-1', 'ModifyImageAttribute')),
      ...times(120, call('us-west-2', 'CopyImage')),
    ];
    const b = fanoutLowerBound(calls, ['us-west-2', 'eu-west-1'], 'us-east-1', 300, 600);
    expect(b).toEqual({ region: 'eu-west-1', copyTermS: 30, shareTermS: 10, seconds: 300 + 30 + 600 + 10 });
  });

  it('bounds the home region by the image time and its sharing only', () => {
    const b = fanoutLowerBound(times(5100, call('us-east-1', 'ModifyImageAttribute')), [], 'us-east-1', 300, 600);
    expect(b).toEqual({ region: 'us-east-1', copyTermS: 0, shareTermS: 1000, seconds: 1300 });
  });

  it('makes distinct 12-digit account ids', () => {
    const a = shareAccounts(500);
    expect(new Set(a).size).toBe(500);
    expect(a.every((x) => /^\d{12}$/.test(x))).toBe(true);
  });
});
