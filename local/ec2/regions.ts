import type { ActionHandler } from './context.js';
import { invalidValue } from './errors.js';
import { applyFilters, parseFilters, type FilterSpec } from './filters.js';
import { REGIONS } from './model.js';

const REGION_FILTERS: FilterSpec<string> = {
  names: new Set(['region-name', 'endpoint', 'opt-in-status']),
  tags: () => ({}),
  values: (r, name) => (name === 'region-name' ? [r] : name === 'endpoint' ? [`ec2.${r}.amazonaws.com`] : ['opt-in-not-required']),
};

export const describeRegions: ActionHandler = (ctx) => {
  const names = ctx.p.strings('RegionName');
  const unknown = names.filter((n) => !(REGIONS as readonly string[]).includes(n));
  if (unknown.length > 0) throw invalidValue(`Invalid region names: ${unknown.join(', ')}`);
  let list: string[] = names.length > 0 ? names : [...REGIONS];
  list = applyFilters(list, parseFilters(ctx.p), REGION_FILTERS);
  return {
    regionInfo: list.map((regionName) => ({
      regionName,
      regionEndpoint: `ec2.${regionName}.amazonaws.com`,
      optInStatus: 'opt-in-not-required',
    })),
  };
};
