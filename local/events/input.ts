import { JSONPath } from 'jsonpath-plus';
import { isJsonObject, type JsonObject, type JsonValue } from '../json.js';

/**
 * What a target receives: the event itself, a constant `Input`, the part of the event an
 * `InputPath` selects, or an `InputTransformer`'s rendered `InputTemplate`.
 *
 * JSONPath is evaluated by jsonpath-plus (script evaluation off), on the subset EventBridge
 * accepts (EventBridge User Guide, input transformation): `$`, dot notation with names of
 * letters, digits, dashes, underscores and forward slashes, array indices and `*` wildcards
 * (which yield a list); bracket notation for names is refused, as EventBridge refuses it.
 * The template rendering below (renderTemplate) is our own: no library renders EventBridge's
 * placeholder rules (JSON outside strings, text inside them).
 */
export class TargetInputError extends Error {
  override name = 'ValidationException';
}

/** One EventBridge JSONPath: `$`, then `.name`, `.*`, `[n]` or `[*]` segments. */
const EVENTBRIDGE_PATH = /^\$(?:\.(?:\*|[A-Za-z0-9_/-]+)|\[(?:\d+|\*)\])*$/;

/** Throws TargetInputError unless `path` is a JSONPath EventBridge accepts. */
export function checkJsonPath(path: string): void {
  if (!path.startsWith('$')) throw new TargetInputError(`Invalid JSONPath "${path}": must start with $`);
  if (!EVENTBRIDGE_PATH.test(path)) throw new TargetInputError(`Invalid JSONPath "${path}"`);
}

/** The value `path` selects in `root` (a list when the path has a wildcard), undefined when absent. */
export function evaluateJsonPath(path: string, root: JsonValue): JsonValue | undefined {
  checkJsonPath(path);
  const found = JSONPath({ path, json: root, wrap: true, eval: false }) as JsonValue[];
  return path.includes('*') ? found : found[0];
}

export interface InputTransformer {
  InputPathsMap?: Record<string, string>;
  InputTemplate: string;
}

const PREDEFINED = new Set([
  'aws.events.rule-arn',
  'aws.events.rule-name',
  'aws.events.event.ingestion-time',
  'aws.events.event',
  'aws.events.event.json',
]);

/** PutTargets-time checks of a target's input settings (ValidationException on failure). */
export function validateTargetInput(t: JsonObject): void {
  const given = ['Input', 'InputPath', 'InputTransformer'].filter((k) => t[k] !== undefined && t[k] !== null);
  if (given.length > 1) throw new TargetInputError('Only one of Input, InputPath, or InputTransformer must be provided.');
  if (typeof t.Input === 'string') {
    try {
      JSON.parse(t.Input);
    } catch {
      throw new TargetInputError('Parameter Input is not valid. Reason: it must be valid JSON text.');
    }
  }
  if (t.InputPath !== undefined && t.InputPath !== null) {
    if (typeof t.InputPath !== 'string') throw new TargetInputError('Parameter InputPath is not valid.');
    checkJsonPath(t.InputPath);
  }
  const it = t.InputTransformer;
  if (it !== undefined && it !== null) {
    if (!isJsonObject(it) || typeof it.InputTemplate !== 'string' || it.InputTemplate === '') {
      throw new TargetInputError('Parameter InputTransformer is not valid. Reason: InputTemplate is required.');
    }
    const map = it.InputPathsMap ?? {};
    if (!isJsonObject(map)) throw new TargetInputError('Parameter InputPathsMap is not valid.');
    const keys = Object.keys(map);
    if (keys.length > 100) throw new TargetInputError('InputPathsMap can hold at most 100 variables.');
    for (const k of keys) {
      if (PREDEFINED.has(k) || k.startsWith('aws.')) throw new TargetInputError(`InputPathsMap variable ${k} is reserved.`);
      if (!/^[A-Za-z0-9_-]+$/.test(k)) throw new TargetInputError(`InputPathsMap variable ${k} is not valid.`);
      const p = map[k];
      if (typeof p !== 'string') throw new TargetInputError(`InputPathsMap value for ${k} must be a JSONPath.`);
      checkJsonPath(p);
    }
  }
}

export interface TransformContext {
  ruleArn: string;
  ruleName: string;
  ingestionTime: string;
}

/** The text a target is given for `event`, per its Input/InputPath/InputTransformer. */
export function renderTargetInput(t: JsonObject, event: JsonObject, ctx: TransformContext): string {
  if (typeof t.Input === 'string') return t.Input;
  if (typeof t.InputPath === 'string') return JSON.stringify(evaluateJsonPath(t.InputPath, event) ?? null);
  const it = t.InputTransformer;
  if (isJsonObject(it) && typeof it.InputTemplate === 'string') {
    const vars = new Map<string, JsonValue | undefined>();
    const map = isJsonObject(it.InputPathsMap) ? it.InputPathsMap : {};
    for (const [k, p] of Object.entries(map)) if (typeof p === 'string') vars.set(k, evaluateJsonPath(p, event));
    const withoutDetail: JsonObject = { ...event };
    delete withoutDetail.detail;
    vars.set('aws.events.rule-arn', ctx.ruleArn);
    vars.set('aws.events.rule-name', ctx.ruleName);
    vars.set('aws.events.event.ingestion-time', ctx.ingestionTime);
    vars.set('aws.events.event', withoutDetail);
    vars.set('aws.events.event.json', event);
    return renderTemplate(it.InputTemplate, vars);
  }
  return JSON.stringify(event);
}

/**
 * `<name>` placeholders are replaced as EventBridge does: in a JSON template (one that starts
 * with `{` or `[`), outside a string a value is inserted as JSON (a string gets its quotes);
 * inside a JSON string, and anywhere in a plain-text template, its text is inserted (escaped
 * for the string it lands in). A missing path gives `null` (JSON) or nothing (text).
 * Placeholders that name no variable are left as they are.
 */
export function renderTemplate(template: string, vars: Map<string, JsonValue | undefined>): string {
  const jsonTemplate = /^\s*[[{]/.test(template);
  let out = '';
  let inString = false;
  let escaped = false;
  for (let i = 0; i < template.length; i++) {
    const c = template[i] as string;
    if (c === '<') {
      const m = /^<([A-Za-z0-9_.-]+)>/.exec(template.slice(i));
      if (m !== null && vars.has(m[1] as string)) {
        const v = vars.get(m[1] as string);
        if (jsonTemplate && !inString) out += JSON.stringify(v ?? null);
        else {
          const text = v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v);
          out += inString ? JSON.stringify(text).slice(1, -1) : text;
        }
        i += m[0].length - 1;
        escaped = false;
        continue;
      }
    }
    out += c;
    if (escaped) escaped = false;
    else if (c === '\\' && inString) escaped = true;
    else if (c === '"') inString = !inString;
  }
  return out;
}
