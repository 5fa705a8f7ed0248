import { invalidValue } from './errors.js';
import type { Params } from '../protocols/query.js';
import type { TagMap } from './model.js';

/** One `Filter.N`: a name and the values any of which may match. */
export interface Filter {
  name: string;
  values: string[];
}

export function parseFilters(p: Params): Filter[] {
  return p.list('Filter').map((f) => {
    const name = f.required('Name');
    return { name, values: f.strings('Value') };
  });
}

const cache = new Map<string, RegExp>();

/** EC2 filter values: `*` matches any run of characters, `?` one character, `\` escapes them. */
export function wildcard(pattern: string): RegExp {
  let re = cache.get(pattern);
  if (re === undefined) {
    let src = '';
    for (let i = 0; i < pattern.length; i++) {
      const c = pattern[i] as string;
      if (c === '\\' && i + 1 < pattern.length) {
        src += (pattern[++i] as string).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
      } else if (c === '*') src += '.*';
      else if (c === '?') src += '.';
      else src += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    }
    re = new RegExp(`^${src}$`, 's');
    if (cache.size > 1000) cache.clear();
    cache.set(pattern, re);
  }
  return re;
}

/** The filters a resource type supports: their names (besides `tag:<key>`, `tag-key`, `tag-value`) and values. */
export interface FilterSpec<T> {
  names: ReadonlySet<string>;
  values(item: T, name: string): string[];
  tags(item: T): TagMap;
}

function fieldValues<T>(spec: FilterSpec<T>, item: T, name: string): string[] {
  if (name.startsWith('tag:')) {
    const v = spec.tags(item)[name.slice(4)];
    return v === undefined ? [] : [v];
  }
  if (name === 'tag-key') return Object.keys(spec.tags(item));
  if (name === 'tag-value') return Object.values(spec.tags(item));
  return spec.values(item, name);
}

/** Filters AND together; a filter's values OR together. An unknown filter name is InvalidParameterValue. */
export function applyFilters<T>(items: T[], filters: Filter[], spec: FilterSpec<T>): T[] {
  if (filters.length === 0) return items;
  for (const f of filters) {
    const known = f.name.startsWith('tag:') || f.name === 'tag-key' || f.name === 'tag-value' || spec.names.has(f.name);
    if (!known) throw invalidValue(`The filter '${f.name}' is invalid`);
    if (f.values.length === 0) throw invalidValue(`The filter '${f.name}' requires at least one value`);
  }
  const matchers = filters.map((f) => ({ name: f.name, res: f.values.map(wildcard) }));
  return items.filter((item) => matchers.every((m) => fieldValues(spec, item, m.name).some((v) => m.res.some((re) => re.test(v)))));
}
