/** Helpers for walking a JSON policy document and naming where an element sits in it. */

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `.Name` for identifier-like keys, `["aws:RequestTag/x"]` otherwise. */
export function jsonPathKey(key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}
