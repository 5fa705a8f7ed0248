import { buildCostUsd, crossingMinutes, PRICES } from '../../bench/workflow-cost.bench.js';

describe('workflow-cost bench arithmetic', () => {
  it('prices a build from its transitions, requests and GB-seconds', () => {
    expect(buildCostUsd(1000, 0, 0)).toBeCloseTo(0.025, 12);
    expect(buildCostUsd(0, 1_000_000, 0)).toBeCloseTo(0.2, 12);
    expect(buildCostUsd(0, 0, 1)).toBeCloseTo(PRICES.perGbSecondArm64, 12);
  });

  it('finds where polling reaches the callbacks cost: between points, below the first, or never', () => {
    expect(
      crossingMinutes(
        [
          [1, 0.5],
          [10, 1.4],
          [60, 6.4],
        ],
        1,
      ),
    ).toBeCloseTo(6, 9);
    expect(
      crossingMinutes(
        [
          [10, 4],
          [1, 1.3],
        ],
        1,
      ),
    ).toBeCloseTo(0, 9);
    expect(
      crossingMinutes(
        [
          [1, 1.5],
          [11, 2.5],
        ],
        1,
      ),
    ).toBe(0);
    expect(
      crossingMinutes(
        [
          [1, 1.2],
          [10, 3],
        ],
        1,
      ),
    ).toBeCloseTo(0, 9);
    expect(
      crossingMinutes(
        [
          [1, 0.9],
          [10, 4.5],
        ],
        0.72,
      ),
    ).toBeCloseTo(0.55, 9);
    expect(
      crossingMinutes(
        [
          [1, 0.5],
          [10, 0.6],
        ],
        1,
      ),
    ).toBeNull();
  });
});
