/**
 * The EC2 Query protocol's response XML: lowerCamel elements, no Result wrapper, lists as a
 * wrapper element of `<item>`s (aws-facts.md). Values: strings, numbers, booleans, nested
 * objects; arrays become `<item>` lists; undefined members are left out.
 */
export type XmlValue = string | number | boolean | undefined | XmlObject | XmlValue[];
export interface XmlObject {
  [key: string]: XmlValue;
}

export const EC2_XMLNS = 'http://ec2.amazonaws.com/doc/2016-11-15/';

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&${{ '&': 'amp', '<': 'lt', '>': 'gt', '"': 'quot', "'": 'apos' }[c] ?? ''};`);
}

/**
 * Appends `value` as the element `key`: objects as nested elements, arrays as a wrapper of
 * `listItem` elements (`item` in EC2's protocol, `member` in the other Query APIs such as
 * Auto Scaling; an empty list is `<key/>`), scalars escaped.
 */
export function renderXml(key: string, value: XmlValue, out: string[], listItem: 'item' | 'member' = 'item'): void {
  if (value === undefined) return;
  if (Array.isArray(value)) {
    if (value.length === 0) {
      out.push(`<${key}/>`);
      return;
    }
    out.push(`<${key}>`);
    for (const item of value) renderXml(listItem, item, out, listItem);
    out.push(`</${key}>`);
    return;
  }
  if (typeof value === 'object') {
    out.push(`<${key}>`);
    for (const [k, v] of Object.entries(value)) renderXml(k, v, out, listItem);
    out.push(`</${key}>`);
    return;
  }
  out.push(`<${key}>${escapeXml(String(value))}</${key}>`);
}

export function responseXml(action: string, requestId: string, body: XmlObject): string {
  const out: string[] = [
    '<?xml version="1.0" encoding="UTF-8"?>\n',
    `<${action}Response xmlns="${EC2_XMLNS}">`,
    `<requestId>${requestId}</requestId>`,
  ];
  for (const [k, v] of Object.entries(body)) renderXml(k, v, out);
  out.push(`</${action}Response>`);
  return out.join('');
}

export function errorXml(code: string, message: string, requestId: string): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Response><Errors><Error><Code>${escapeXml(code)}</Code><Message>${escapeXml(message)}</Message></Error></Errors>` +
    `<RequestID>${requestId}</RequestID></Response>`
  );
}
