import { XMLBuilder, XMLParser } from 'fast-xml-parser';

/**
 * XML for the two XML protocols (Query in protocols/query.ts, REST-XML in protocols/rest-xml.ts),
 * written with fast-xml-parser's XMLBuilder and read with its XMLParser.
 *
 * The builder's input: an object's keys are elements in insertion order, `@_name` keys are
 * attributes, an array is the element repeated (a flattened list), `null` is an empty element
 * written `<name/>`, `''` an empty element written `<name></name>`, `undefined` is left out.
 * The five markup characters are escaped as entities (`&amp;`, `&lt;`, `&gt;`, `&quot;`,
 * `&apos;`), the way EC2, Auto Scaling and S3 write them.
 */
export type XmlNode = string | number | boolean | null | undefined | XmlElement | XmlNode[];
export interface XmlElement {
  [name: string]: XmlNode;
}

/** Every document of the local cloud starts so (AWS's XML APIs write the declaration, then a newline). */
export const XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n';

const builder = new XMLBuilder({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  suppressEmptyNode: false,
  suppressBooleanAttributes: false,
  format: false,
});

/** One element (`{ Root: {...} }`) as a document, with the XML declaration. */
export function xmlDocument(root: XmlElement): string {
  return XML_DECLARATION + builder.build(root);
}

/** A parsed XML element: text, attributes (`@_name`), children (arrays where `arrays` says so). */
export type ParsedXml = { [name: string]: ParsedXmlValue };
export type ParsedXmlValue = string | ParsedXml | ParsedXmlValue[];

/**
 * Parses a request body. Text is kept verbatim (values may be numeric-looking or have
 * surrounding spaces); elements named in `arrays` are always arrays. Undefined when the body is
 * not one well-formed XML document.
 */
export function parseXmlDocument(text: string, arrays: readonly string[] = []): ParsedXml | undefined {
  const parser = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: '@_',
    parseTagValue: false,
    parseAttributeValue: false,
    trimValues: false,
    removeNSPrefix: false,
    isArray: (name) => arrays.includes(name),
  });
  const trimmed = text.trim();
  if (trimmed === '' || !trimmed.startsWith('<')) return undefined;
  try {
    const parsed: unknown = parser.parse(trimmed, true);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
    return parsed as ParsedXml;
  } catch {
    return undefined;
  }
}

export function xmlChild(node: ParsedXmlValue | undefined, name: string): ParsedXmlValue | undefined {
  if (node === undefined || typeof node === 'string' || Array.isArray(node)) return undefined;
  return node[name];
}

export function xmlChildren(node: ParsedXmlValue | undefined, name: string): ParsedXmlValue[] {
  const c = xmlChild(node, name);
  if (c === undefined) return [];
  return Array.isArray(c) ? c : [c];
}

/** The text of an element (`<Key>a</Key>` → `a`; `<Key/>` → ``), or undefined when absent. */
export function xmlText(node: ParsedXmlValue | undefined): string | undefined {
  if (node === undefined) return undefined;
  if (typeof node === 'string') return node;
  if (Array.isArray(node)) return xmlText(node[0]);
  const t = node['#text'];
  return typeof t === 'string' ? t : '';
}

export function xmlChildText(node: ParsedXmlValue | undefined, name: string): string | undefined {
  return xmlText(xmlChild(node, name));
}
