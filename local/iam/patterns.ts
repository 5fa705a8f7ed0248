/**
 * Policy strings: `*` / `?` wildcards, policy variables and ARN segments.
 *
 * - Wildcards: `*` matches any run of characters (also none), `?` exactly one character.
 * - Policy variables (policy language 2012-10-17 only; in 2008-10-17 `${…}` is literal text,
 *   "IAM policy elements: Variables and tags"): `${context-key}`, `${context-key, 'default'}`,
 *   and the literal characters `${*}`, `${?}`, `${$}`. A substituted value is literal text:
 *   its `*` and `?` are not wildcards (which is why `${*}` exists). A variable that names a
 *   key absent from the request, or a multivalued key, is unresolvable: the string holding
 *   it matches nothing ("If AWS cannot resolve a variable, this might cause the entire
 *   statement to be invalid").
 * - ARNs are matched segment by segment: the six parts split at the first five colons are
 *   compared separately, so a wildcard never crosses one of those colons; the sixth part (the
 *   resource) keeps its own colons and slashes, which wildcards do cross ("IAM JSON policy
 *   elements: Resource"; "ArnLike … Each of the six colon-delimited components of the ARN is
 *   checked separately").
 */

export type Piece =
  { kind: 'text'; text: string } | { kind: 'star' } | { kind: 'one' } | { kind: 'var'; key: string; keyLower: string; fallback?: string };

export interface Template {
  readonly source: string;
  readonly pieces: readonly Piece[];
  readonly hasVariables: boolean;
  readonly hasWildcards: boolean;
}

/** A malformed policy variable; the parser turns it into a PolicyNotUnderstoodError with the element's path. */
export class TemplateSyntaxError extends Error {
  override name = 'TemplateSyntaxError';
}

export interface TemplateOptions {
  /** Recognise `${…}` (policy language 2012-10-17). */
  variables: boolean;
  /** Recognise `*` and `?` (Resource, Action, StringLike, ArnLike…); otherwise they are literal. */
  wildcards: boolean;
}

/** A variable name: a context key (`aws:username`, `aws:PrincipalTag/team`, `s3:prefix`). */
const VARIABLE_NAME = /^[A-Za-z0-9_.+=@-]+:[A-Za-z0-9_.:/+=@-]+$/;

/** Parses a policy string into pieces; throws TemplateSyntaxError for a malformed variable. */
export function parseTemplate(source: string, options: TemplateOptions): Template {
  const pieces: Piece[] = [];
  let text = '';
  const flush = (): void => {
    if (text !== '') pieces.push({ kind: 'text', text });
    text = '';
  };
  for (let i = 0; i < source.length; i++) {
    const c = source[i] as string;
    if (options.variables && c === '$' && source[i + 1] === '{') {
      const end = source.indexOf('}', i + 2);
      if (end < 0) throw new TemplateSyntaxError(`the policy variable at offset ${i} has no closing brace`);
      const body = source.slice(i + 2, end);
      if (body === '*' || body === '?' || body === '$') {
        text += body;
      } else {
        flush();
        pieces.push(parseVariable(body));
      }
      i = end;
    } else if (options.wildcards && c === '*') {
      flush();
      pieces.push({ kind: 'star' });
    } else if (options.wildcards && c === '?') {
      flush();
      pieces.push({ kind: 'one' });
    } else {
      text += c;
    }
  }
  flush();
  return {
    source,
    pieces,
    hasVariables: pieces.some((p) => p.kind === 'var'),
    hasWildcards: pieces.some((p) => p.kind === 'star' || p.kind === 'one'),
  };
}

function parseVariable(body: string): Piece {
  // "${aws:username, 'default'}": the default value is quoted, after a comma and a space.
  const m = /^([^,]*?)(?:,\s*'([^']*)')?$/.exec(body);
  const key = m?.[1] ?? '';
  if (key === '') throw new TemplateSyntaxError(`the policy variable \${${body}} is empty`);
  if (m === null || !VARIABLE_NAME.test(key))
    throw new TemplateSyntaxError(`\${${body}} is not a policy variable (\${service:key} or \${service:key, 'default'})`);
  const fallback = m[2];
  return fallback === undefined
    ? { kind: 'var', key, keyLower: key.toLowerCase() }
    : { kind: 'var', key, keyLower: key.toLowerCase(), fallback };
}

/** A request context value as a policy variable sees it. */
export type VariableValue = string | number | boolean | Date | readonly unknown[] | undefined;

/**
 * Substitutes the variables; undefined when one is unresolvable (absent without a default,
 * or multivalued: "you cannot use multivalued context keys as policy variables").
 */
export function resolveTemplate(template: Template, lookup: (keyLower: string) => VariableValue): Piece[] | undefined {
  if (!template.hasVariables) return template.pieces as Piece[];
  const out: Piece[] = [];
  for (const p of template.pieces) {
    if (p.kind !== 'var') {
      out.push(p);
      continue;
    }
    const text = variableText(lookup(p.keyLower)) ?? p.fallback;
    if (text === undefined) return undefined;
    out.push({ kind: 'text', text });
  }
  return out;
}

function variableText(v: VariableValue): string | undefined {
  if (v === undefined || Array.isArray(v)) return undefined;
  if (isDate(v)) return v.toISOString();
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

/** A Date, also one made in another realm (a vm context, a worker), where `instanceof Date` fails. */
export function isDate(v: unknown): v is Date {
  return Object.prototype.toString.call(v) === '[object Date]';
}

const regExpCache = new Map<string, RegExp>();
const CACHE_LIMIT = 10_000;

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

function cachedRegExp(source: string, flags: string): RegExp {
  const k = `${flags}/${source}`;
  let re = regExpCache.get(k);
  if (re === undefined) {
    if (regExpCache.size >= CACHE_LIMIT) regExpCache.clear();
    re = new RegExp(source, flags);
    regExpCache.set(k, re);
  }
  return re;
}

/** A whole-string matcher for resolved pieces (no variables left). */
export function piecesRegExp(pieces: readonly Piece[], ignoreCase: boolean): RegExp {
  let source = '';
  for (const p of pieces) {
    if (p.kind === 'text') source += escapeRegExp(p.text);
    else if (p.kind === 'star') source += '.*';
    else if (p.kind === 'one') source += '.';
    else throw new TypeError('unresolved policy variable');
  }
  return cachedRegExp(`^${source}$`, ignoreCase ? 'isu' : 'su');
}

/** A whole-string matcher for a raw pattern with `*` and `?` wildcards (action names). */
export function globRegExp(pattern: string, ignoreCase: boolean): RegExp {
  return piecesRegExp(parseTemplate(pattern, { variables: false, wildcards: true }).pieces, ignoreCase);
}

/** Whether resolved pieces match a string. */
export function matchesPieces(pieces: readonly Piece[], value: string, ignoreCase = false): boolean {
  if (pieces.length === 1 && pieces[0]?.kind === 'text') {
    return ignoreCase ? pieces[0].text.toLowerCase() === value.toLowerCase() : pieces[0].text === value;
  }
  if (pieces.length === 0) return value === '';
  return piecesRegExp(pieces, ignoreCase).test(value);
}

/** Splits an ARN at its first five colons; undefined when it has fewer than six parts. */
export function splitArn(arn: string): string[] | undefined {
  const parts: string[] = [];
  let start = 0;
  for (let n = 0; n < 5; n++) {
    const colon = arn.indexOf(':', start);
    if (colon < 0) return undefined;
    parts.push(arn.slice(start, colon));
    start = colon + 1;
  }
  parts.push(arn.slice(start));
  return parts;
}

/** Splits resolved pieces at the first five literal colons, like splitArn. */
export function splitArnPieces(pieces: readonly Piece[]): Piece[][] | undefined {
  const segments: Piece[][] = [[]];
  for (const p of pieces) {
    if (p.kind !== 'text' || segments.length === 6) {
      (segments[segments.length - 1] as Piece[]).push(p);
      continue;
    }
    const parts = p.text.split(':');
    parts.forEach((part, i) => {
      if (i > 0) {
        if (segments.length < 6) segments.push([]);
        else {
          (segments[5] as Piece[]).push({ kind: 'text', text: `:${part}` });
          return;
        }
      }
      if (part !== '') (segments[segments.length - 1] as Piece[]).push({ kind: 'text', text: part });
    });
  }
  return segments.length === 6 ? segments : undefined;
}

/** ARN matching: each of the six parts separately, case-sensitive, wildcards within a part. */
export function matchesArn(pieces: readonly Piece[], arn: string): boolean {
  const want = splitArnPieces(pieces);
  const have = splitArn(arn);
  if (want === undefined || have === undefined) return false;
  return want.every((segment, i) => matchesPieces(segment, have[i] as string));
}

/**
 * The offset of the first variable in an ARN pattern that sits before the resource part
 * (policy variables are allowed only after the fifth colon), or -1.
 */
export function variableBeforeResourcePart(source: string): number {
  let colons = 0;
  for (let i = 0; i < source.length && colons < 5; i++) {
    if (source[i] === ':') colons++;
    else if (source[i] === '$' && source[i + 1] === '{') return i;
  }
  return -1;
}
