/**
 * A small strict XML reader for manifests: elements, attributes, text, the five predefined
 * entities and character references, comments, CDATA and an XML declaration. DOCTYPEs are
 * refused (no entity expansion). Errors are ManifestError with the path of the element.
 */
import { ManifestError } from './errors.js';

export interface XmlElement {
  name: string;
  attributes: Map<string, string>;
  children: XmlElement[];
  /** Concatenated text content (not trimmed). */
  text: string;
  /** Path from the root, e.g. `manifest/image/parts/part[2]`. */
  path: string;
}

const NAME = /[A-Za-z_][A-Za-z0-9_.-]*/y;
const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decodeEntities(raw: string, path: string): string {
  return raw.replace(/&([^;&\s]*);?/g, (match, body: string) => {
    if (!match.endsWith(';')) throw new ManifestError(path, `malformed entity "${match}"`);
    const named = ENTITIES[body];
    if (named !== undefined) return named;
    const num = /^#x([0-9a-fA-F]{1,6})$/.exec(body) ?? /^#([0-9]{1,7})$/.exec(body);
    if (num !== null) {
      const code = parseInt(num[1] as string, body.startsWith('#x') ? 16 : 10);
      if (code > 0x10ffff || code === 0) throw new ManifestError(path, `invalid character reference "${match}"`);
      return String.fromCodePoint(code);
    }
    throw new ManifestError(path, `unknown entity "${match}"`);
  });
}

export function escapeText(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function escapeAttribute(value: string): string {
  return escapeText(value).replace(/'/g, '&apos;').replace(/"/g, '&quot;');
}

/** Parses a document with exactly one root element; with `rootName`, another root is refused before its content is read. */
export function parseXml(xml: string, rootName?: string): XmlElement {
  let pos = 0;
  const fail = (path: string, message: string): never => {
    throw new ManifestError(path === '' ? 'manifest' : path, `${message} (at character ${pos})`);
  };
  const skipMisc = (): void => {
    for (;;) {
      const ws = /\s*/y;
      ws.lastIndex = pos;
      ws.exec(xml);
      pos = ws.lastIndex;
      if (xml.startsWith('<!--', pos)) {
        const end = xml.indexOf('-->', pos + 4);
        if (end === -1) fail('', 'unterminated comment');
        pos = end + 3;
      } else if (xml.startsWith('<?', pos)) {
        const end = xml.indexOf('?>', pos + 2);
        if (end === -1) fail('', 'unterminated processing instruction');
        pos = end + 2;
      } else {
        return;
      }
    }
  };
  const readName = (path: string): string => {
    NAME.lastIndex = pos;
    const m = NAME.exec(xml);
    if (m === null) return fail(path, 'expected a name');
    pos = NAME.lastIndex;
    return m[0];
  };
  const parseElement = (parentPath: string, siblings: Map<string, number>): XmlElement => {
    pos += 1; // '<'
    const name = readName(parentPath);
    if (parentPath === '' && rootName !== undefined && name !== rootName) fail('', `root element is <${name}>, expected <${rootName}>`);
    const index = siblings.get(name) ?? 0;
    siblings.set(name, index + 1);
    const path = parentPath === '' ? name : `${parentPath}/${name}${index > 0 ? `[${index}]` : ''}`;
    const el: XmlElement = { name, attributes: new Map(), children: [], text: '', path };
    for (;;) {
      const ws = /\s*/y;
      ws.lastIndex = pos;
      const spaces = ws.exec(xml)?.[0] ?? '';
      pos = ws.lastIndex;
      if (xml.startsWith('/>', pos)) {
        pos += 2;
        return el;
      }
      if (xml[pos] === '>') {
        pos += 1;
        break;
      }
      if (spaces === '') fail(path, 'expected whitespace, ">" or "/>" in a start tag');
      const attr = readName(path);
      const eq = /\s*=\s*(["'])/y;
      eq.lastIndex = pos;
      const m = eq.exec(xml);
      if (m === null) fail(path, `attribute ${attr} has no quoted value`);
      pos = eq.lastIndex;
      const quote = (m as RegExpExecArray)[1] as string;
      const end = xml.indexOf(quote, pos);
      if (end === -1) fail(path, `unterminated value of attribute ${attr}`);
      const raw = xml.slice(pos, end);
      if (raw.includes('<')) fail(path, `"<" in the value of attribute ${attr}`);
      if (el.attributes.has(attr)) fail(path, `duplicate attribute ${attr}`);
      el.attributes.set(attr, decodeEntities(raw, `${path}/@${attr}`));
      pos = end + 1;
    }
    const childIndexes = new Map<string, number>();
    let text = '';
    for (;;) {
      const lt = xml.indexOf('<', pos);
      if (lt === -1) fail(path, `element ${name} is not closed`);
      text += decodeEntities(xml.slice(pos, lt), path);
      pos = lt;
      if (xml.startsWith('</', pos)) {
        pos += 2;
        const closing = readName(path);
        if (closing !== name) fail(path, `</${closing}> closes <${name}>`);
        const gt = /\s*>/y;
        gt.lastIndex = pos;
        if (gt.exec(xml) === null) fail(path, `malformed end tag of ${name}`);
        pos = gt.lastIndex;
        el.text = text;
        return el;
      }
      if (xml.startsWith('<!--', pos)) {
        const end = xml.indexOf('-->', pos + 4);
        if (end === -1) fail(path, 'unterminated comment');
        pos = end + 3;
      } else if (xml.startsWith('<![CDATA[', pos)) {
        const end = xml.indexOf(']]>', pos + 9);
        if (end === -1) fail(path, 'unterminated CDATA section');
        text += xml.slice(pos + 9, end);
        pos = end + 3;
      } else if (xml.startsWith('<!', pos) || xml.startsWith('<?', pos)) {
        fail(path, 'declarations and processing instructions are not allowed inside elements');
      } else {
        el.children.push(parseElement(path, childIndexes));
      }
    }
  };

  if (xml.charCodeAt(0) === 0xfeff) pos = 1;
  skipMisc();
  if (xml.startsWith('<!DOCTYPE', pos) || xml.startsWith('<!doctype', pos)) fail('', 'DOCTYPE is not allowed in a manifest');
  if (xml[pos] !== '<') fail('', 'no root element');
  const root = parseElement('', new Map());
  skipMisc();
  if (pos !== xml.length) fail('', 'content after the root element');
  return root;
}
