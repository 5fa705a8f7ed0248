import { TAG } from './constants.js';

/**
 * Deterministic image name `<family>-<yyyymmddThhmmZ>-<buildId8>` (DESIGN.md). The time is
 * the build's `requestedAt`, not the clock at the moment of the call, so every retry of a
 * step computes the same name: the name is the idempotency key of CreateImage.
 */
export function imageName(family: string, requestedAt: string, buildId: string): string {
  const t = new Date(requestedAt);
  if (Number.isNaN(t.getTime())) throw new RangeError(`requestedAt is not a timestamp: ${requestedAt}`);
  const p = (n: number): string => String(n).padStart(2, '0');
  const stamp = `${t.getUTCFullYear()}${p(t.getUTCMonth() + 1)}${p(t.getUTCDate())}T${p(t.getUTCHours())}${p(t.getUTCMinutes())}Z`;
  return `${family}-${stamp}-${buildIdShort(buildId)}`;
}

/** First 8 alphanumerics of the build id, lower-case. */
export function buildIdShort(buildId: string): string {
  return buildId
    .replace(/[^A-Za-z0-9]/g, '')
    .toLowerCase()
    .slice(0, 8);
}

export interface FactoryTagInput {
  family: string;
  buildId: string;
  source: string;
  createdAt: string;
  noReboot?: boolean;
}

/** The factory tags of DESIGN.md, in EC2's `{Key, Value}` shape. */
export function factoryTags(input: FactoryTagInput): { Key: string; Value: string }[] {
  const tags: { Key: string; Value: string }[] = [
    { Key: TAG.managed, Value: 'true' },
    { Key: TAG.family, Value: input.family },
    { Key: TAG.buildId, Value: input.buildId },
    { Key: TAG.source, Value: input.source },
    { Key: TAG.createdAt, Value: input.createdAt },
  ];
  if (input.noReboot !== undefined) tags.push({ Key: TAG.reboot, Value: input.noReboot ? 'false' : 'true' });
  return tags;
}

/** Merges tag lists; later lists win on duplicate keys. */
export function mergeTags(...lists: { Key: string; Value: string }[][]): { Key: string; Value: string }[] {
  const m = new Map<string, string>();
  for (const list of lists) for (const t of list) m.set(t.Key, t.Value);
  return [...m].map(([Key, Value]) => ({ Key, Value }));
}
