import { XMLParser } from 'fast-xml-parser';
import { malformedXml } from './errors.js';

export const S3_XMLNS = 'http://s3.amazonaws.com/doc/2006-03-01/';

/** Escapes text for element content and attribute values; control characters become character references. */
export function esc(s: string): string {
  return s.replace(/[&<>"']|[^\t\n\x20-\uffff]/g, (c) => {
    switch (c) {
      case '&':
        return '&amp;';
      case '<':
        return '&lt;';
      case '>':
        return '&gt;';
      case '"':
        return '&quot;';
      case "'":
        return '&apos;';
      default:
        return `&#x${c.charCodeAt(0).toString(16).toUpperCase()};`;
    }
  });
}

/** `<name>escaped value</name>`, or nothing when the value is undefined. */
export function el(name: string, value: string | number | boolean | undefined): string {
  return value === undefined ? '' : `<${name}>${esc(String(value))}</${name}>`;
}

export function xmlDocument(root: string, inner: string, xmlns = true): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${root}${xmlns ? ` xmlns="${S3_XMLNS}"` : ''}>${inner}</${root}>`;
}

/** A parsed XML element: text, attributes (`@_name`), children (arrays where `arrays` says so). */
export type XmlNode = { [name: string]: XmlValue };
export type XmlValue = string | XmlNode | XmlValue[];

/**
 * Parses a request body (CreateBucketConfiguration, Delete, CompleteMultipartUpload,
 * AccessControlPolicy). Text is kept verbatim (keys may be numeric-looking or have
 * surrounding spaces); elements named in `arrays` are always arrays.
 */
export function parseXml(body: Buffer, arrays: readonly string[] = []): XmlNode {
  const parser = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: '@_',
    parseTagValue: false,
    parseAttributeValue: false,
    trimValues: false,
    removeNSPrefix: false,
    isArray: (name) => arrays.includes(name),
  });
  const text = body.toString('utf8').trim();
  if (text === '' || !text.startsWith('<')) throw malformedXml();
  try {
    const parsed: unknown = parser.parse(text, true);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw malformedXml();
    return parsed as XmlNode;
  } catch {
    throw malformedXml();
  }
}

export function child(node: XmlValue | undefined, name: string): XmlValue | undefined {
  if (node === undefined || typeof node === 'string' || Array.isArray(node)) return undefined;
  return node[name];
}

export function children(node: XmlValue | undefined, name: string): XmlValue[] {
  const c = child(node, name);
  if (c === undefined) return [];
  return Array.isArray(c) ? c : [c];
}

/** The text of an element (`<Key>a</Key>` → `a`; `<Key/>` → ``), or undefined when absent. */
export function text(node: XmlValue | undefined): string | undefined {
  if (node === undefined) return undefined;
  if (typeof node === 'string') return node;
  if (Array.isArray(node)) return text(node[0]);
  const t = node['#text'];
  return typeof t === 'string' ? t : '';
}

export function childText(node: XmlValue | undefined, name: string): string | undefined {
  return text(child(node, name));
}
