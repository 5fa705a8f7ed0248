import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { XMLParser } from 'fast-xml-parser';
import type { LocalRequest, LocalResponse, LocalService } from '../../local/http.js';

/**
 * AWS's own API models — the `service-2.json` files botocore (the AWS CLI v1's core) ships —
 * and a checker of a response against an operation's output shape: every element or member
 * must be one the model names, with the list wrapper and the type the model gives.
 *
 * Where the models are: `BOTOCORE_DATA` (a botocore `data` directory), else the botocore
 * that `python3` imports (the AWS CLI v1 from pip), else Debian's paths — if they are recent
 * enough to know every operation the local cloud serves. CI installs the AWS CLI v1 from
 * PyPI when none is (.ci/run): Debian's packages are older than APIs the factory uses.
 */
export interface Shape {
  type: string;
  members?: Record<string, Member>;
  member?: Member;
  key?: Member;
  value?: Member;
  enum?: string[];
  flattened?: boolean;
  payload?: string;
  locationName?: string;
}

export interface Member {
  shape: string;
  locationName?: string;
  location?: string;
  flattened?: boolean;
  xmlAttribute?: boolean;
}

export interface ApiModel {
  metadata: { protocol: string; apiVersion: string; targetPrefix?: string };
  operations: Record<string, { output?: { shape: string; resultWrapper?: string } }>;
  shapes: Record<string, Shape>;
}

/**
 * The newest operation the local cloud serves: a model without it predates APIs the factory
 * uses (Debian bookworm's awscli 2.9 and python3-botocore 1.29 lack it, and ChecksumType,
 * DisableImage, deregistration protection…), so checking against it would fail on what is new.
 */
const NEWEST_OPERATION = { service: 'ec2', operation: 'DescribeImageReferences' };

/** The botocore data directory (with current models), or a sentence saying why there is none. */
export function botocoreData(): { dir: string } | { missing: string } {
  const candidates: string[] = [];
  const env = process.env.BOTOCORE_DATA;
  if (env !== undefined && env !== '') candidates.push(env);
  try {
    const pkg = execFileSync('python3', ['-c', 'import botocore, os; print(os.path.dirname(botocore.__file__))'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 20_000,
    }).trim();
    candidates.push(join(pkg, 'data'));
  } catch {
    // no python3, or no botocore for it
  }
  candidates.push('/usr/lib/python3/dist-packages/botocore/data', '/usr/lib/python3/dist-packages/awscli/botocore/data');
  const tried: string[] = [];
  for (const dir of candidates) {
    if (!existsSync(join(dir, NEWEST_OPERATION.service))) {
      tried.push(`${dir} (absent)`);
      continue;
    }
    if (loadModel(dir, NEWEST_OPERATION.service).operations[NEWEST_OPERATION.operation] === undefined) {
      tried.push(`${dir} (too old: no ${NEWEST_OPERATION.service} ${NEWEST_OPERATION.operation})`);
      continue;
    }
    return { dir };
  }
  return {
    missing: `current AWS API models (botocore's data/<service>/<version>/service-2.json) not found; tried ${tried.join('; ')}`,
  };
}

/** A service's newest model (`ec2`, `autoscaling`, `s3`, `events`, `stepfunctions`, `ssm`). */
export function loadModel(dataDir: string, service: string): ApiModel {
  const versions = readdirSync(join(dataDir, service)).sort();
  const dir = join(dataDir, service, versions[versions.length - 1] as string);
  const plain = join(dir, 'service-2.json');
  const text = existsSync(plain) ? readFileSync(plain, 'utf8') : gunzipSync(readFileSync(`${plain}.gz`)).toString('utf8');
  return JSON.parse(text) as ApiModel;
}

// ---- recording what a service answers -------------------------------------------------------------

export interface Recorded {
  operation: string;
  req: LocalRequest;
  res: LocalResponse;
}

/** The service, recording each answer with the operation `operationOf` names (in `into`). */
export function recording(service: LocalService, operationOf: (req: LocalRequest) => string, into: Recorded[]): LocalService {
  return {
    name: service.name,
    matches: (req) => service.matches(req),
    handle: async (req) => {
      const res = await service.handle(req);
      into.push({ operation: operationOf(req), req, res });
      return res;
    },
  };
}

// ---- checking -------------------------------------------------------------------------------------

type XmlNode = string | { [name: string]: XmlNode[] | string };

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  isArray: (_name, _path, _leaf, isAttribute) => !isAttribute,
});

const ISO8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** What is wrong with a recorded 2xx answer, by the model (empty: nothing). */
export function checkResponse(model: ApiModel, r: Recorded): string[] {
  const op = model.operations[r.operation];
  if (op === undefined) return [`${r.operation}: not an operation of the ${model.metadata.apiVersion} model`];
  const body = r.res.body === undefined ? '' : r.res.body.toString();
  const problems: string[] = [];
  const at = (path: string, p: string): string => `${r.operation}: ${path}: ${p}`;
  const protocol = model.metadata.protocol;
  if (protocol === 'json') {
    if (op.output === undefined) return body === '' || body === '{}' ? [] : [at('$', `no output in the model, answered ${body}`)];
    checkJson(model, op.output.shape, JSON.parse(body === '' ? '{}' : body) as unknown, '$', (path, p) => problems.push(at(path, p)));
    return problems;
  }
  if (protocol === 'rest-xml' && op.output !== undefined) {
    // A payload that is the object's data (GetObject's Body), not an XML document.
    const output = model.shapes[op.output.shape] as Shape;
    const payload = output.payload === undefined ? undefined : model.shapes[output.members?.[output.payload]?.shape ?? ''];
    if (payload !== undefined && payload.type !== 'structure') return [];
  }
  if (body === '') return op.output === undefined || protocol === 'rest-xml' ? [] : [at('/', 'no body')];
  const doc = parser.parse(body) as Record<string, XmlNode[]>;
  const rootName = Object.keys(doc).find((k) => k !== '?xml') ?? '';
  const root = doc[rootName]?.[0];
  const report = (path: string, p: string): number => problems.push(at(path, p));
  if (root === undefined) return [at('/', 'no root element')];
  if (protocol === 'ec2') {
    if (rootName !== `${r.operation}Response`) report('/', `root element ${rootName}`);
    if (op.output !== undefined) checkXmlStructure(model, op.output.shape, root, `/${rootName}`, report, ['requestId']);
  } else if (protocol === 'query') {
    if (rootName !== `${r.operation}Response`) report('/', `root element ${rootName}`);
    const children = typeof root === 'string' ? {} : root;
    for (const name of Object.keys(children)) {
      if (name.startsWith('@_') || name === '#text' || name === 'ResponseMetadata') continue;
      if (op.output === undefined || name !== op.output.resultWrapper) report(`/${rootName}/${name}`, 'unknown element');
    }
    const result = op.output?.resultWrapper !== undefined ? children[op.output.resultWrapper] : undefined;
    if (op.output !== undefined && Array.isArray(result)) {
      checkXmlStructure(model, op.output.shape, result[0] as XmlNode, `/${rootName}/${op.output.resultWrapper}`, report, []);
    }
  } else if (op.output !== undefined) {
    // rest-xml: the root is the payload member's structure, else the output's body members.
    const output = model.shapes[op.output.shape] as Shape;
    const shape = output.payload !== undefined ? (output.members?.[output.payload]?.shape as string) : op.output.shape;
    checkXmlStructure(model, shape, root, `/${rootName}`, report, []);
  }
  return problems;
}

function xmlName(name: string, m: Member, shape: Shape): string {
  return m.locationName ?? shape.locationName ?? name;
}

function checkXmlStructure(
  model: ApiModel,
  shapeName: string,
  node: XmlNode,
  path: string,
  report: (path: string, problem: string) => void,
  ignore: string[],
): void {
  const shape = model.shapes[shapeName] as Shape;
  if (shape.type !== 'structure') {
    checkXml(model, shapeName, node, path, report);
    return;
  }
  const children = typeof node === 'string' ? {} : node;
  if (typeof node === 'string' && node !== '') report(path, `text where the model has structure ${shapeName}`);
  const byName = new Map<string, { member: Member; name: string }>();
  for (const [name, m] of Object.entries(shape.members ?? {})) {
    if (m.location !== undefined) continue; // headers, status code: not in the body
    const target = model.shapes[m.shape] as Shape;
    const flattened = target.type === 'list' && (m.flattened === true || target.flattened === true);
    const elementName = flattened ? (m.locationName ?? target.member?.locationName ?? name) : xmlName(name, m, target);
    byName.set(m.xmlAttribute === true ? `@_${elementName}` : elementName, { member: m, name });
  }
  for (const [element, values] of Object.entries(children)) {
    if (element === '#text' || ignore.includes(element)) continue;
    if (element.startsWith('@_xmlns')) continue;
    const found = byName.get(element);
    if (found === undefined) {
      report(`${path}/${element}`, `unknown ${element.startsWith('@_') ? 'attribute' : 'element'} in ${shapeName}`);
      continue;
    }
    const target = model.shapes[found.member.shape] as Shape;
    const list = Array.isArray(values) ? values : [values];
    const flattened = target.type === 'list' && (found.member.flattened === true || target.flattened === true);
    if (flattened) {
      for (const [i, v] of list.entries()) checkXml(model, target.member?.shape as string, v, `${path}/${element}[${i}]`, report);
    } else {
      if (list.length > 1) report(`${path}/${element}`, `repeated ${list.length} times; the model has one ${found.member.shape}`);
      checkXml(model, found.member.shape, list[0] as XmlNode, `${path}/${element}`, report);
    }
  }
}

function checkXml(model: ApiModel, shapeName: string, node: XmlNode, path: string, report: (path: string, problem: string) => void): void {
  const shape = model.shapes[shapeName] as Shape;
  if (shape.type === 'structure') return checkXmlStructure(model, shapeName, node, path, report, []);
  if (shape.type === 'list') {
    const itemName = shape.member?.locationName ?? 'member';
    const children = typeof node === 'string' ? {} : node;
    if (typeof node === 'string' && node !== '') report(path, `text where the model has list ${shapeName}`);
    for (const [element, values] of Object.entries(children)) {
      if (element === '#text' || element.startsWith('@_xmlns')) continue;
      if (element !== itemName) {
        report(`${path}/${element}`, `list ${shapeName} holds <${itemName}> elements, not <${element}>`);
        continue;
      }
      const list = Array.isArray(values) ? values : [values];
      for (const [i, v] of list.entries()) checkXml(model, shape.member?.shape as string, v, `${path}/${itemName}[${i}]`, report);
    }
    return;
  }
  if (shape.type === 'map') {
    report(path, `map ${shapeName}: not checked by this test`);
    return;
  }
  if (typeof node !== 'string') {
    const text = node['#text'];
    const others = Object.keys(node).filter((k) => k !== '#text' && !k.startsWith('@_'));
    if (others.length > 0 || typeof text !== 'string') return report(path, `elements where the model has ${shape.type} ${shapeName}`);
    return checkScalar(shape, shapeName, text, path, report, 'xml');
  }
  checkScalar(shape, shapeName, node, path, report, 'xml');
}

function checkScalar(
  shape: Shape,
  shapeName: string,
  value: unknown,
  path: string,
  report: (path: string, problem: string) => void,
  wire: 'xml' | 'json',
): void {
  const text = typeof value === 'string' ? value : undefined;
  switch (shape.type) {
    case 'string':
      if (text === undefined) return report(path, `${JSON.stringify(value)} is not a string (${shapeName})`);
      if (shape.enum !== undefined && !shape.enum.includes(text)) report(path, `'${text}' is not one of ${shapeName}'s values`);
      return;
    case 'integer':
    case 'long':
      if (wire === 'json' ? !Number.isInteger(value) : !/^-?\d+$/.test(text ?? ''))
        report(path, `${JSON.stringify(value)} is not an ${shape.type}`);
      return;
    case 'double':
    case 'float':
      if (wire === 'json' ? typeof value !== 'number' : !/^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(text ?? '')) {
        report(path, `${JSON.stringify(value)} is not a ${shape.type}`);
      }
      return;
    case 'boolean':
      if (wire === 'json' ? typeof value !== 'boolean' : text !== 'true' && text !== 'false')
        report(path, `${JSON.stringify(value)} is not a boolean`);
      return;
    case 'timestamp':
      if (wire === 'json' ? typeof value !== 'number' : !ISO8601.test(text ?? '')) {
        report(path, `${JSON.stringify(value)} is not a timestamp as the protocol writes it`);
      }
      return;
    case 'blob':
      if (text === undefined || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) report(path, `${JSON.stringify(value)} is not base64`);
      return;
    default:
      report(path, `unexpected shape type ${shape.type}`);
  }
}

function checkJson(
  model: ApiModel,
  shapeName: string,
  value: unknown,
  path: string,
  report: (path: string, problem: string) => void,
): void {
  const shape = model.shapes[shapeName] as Shape;
  switch (shape.type) {
    case 'structure': {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) return report(path, `not an object (${shapeName})`);
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        const m = shape.members?.[k];
        if (m === undefined || m.location !== undefined) {
          report(`${path}.${k}`, `unknown member of ${shapeName}`);
          continue;
        }
        checkJson(model, m.shape, v, `${path}.${k}`, report);
      }
      return;
    }
    case 'list':
      if (!Array.isArray(value)) return report(path, `not a list (${shapeName})`);
      value.forEach((v, i) => checkJson(model, shape.member?.shape as string, v, `${path}[${i}]`, report));
      return;
    case 'map':
      if (value === null || typeof value !== 'object' || Array.isArray(value)) return report(path, `not a map (${shapeName})`);
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        checkScalar(model.shapes[shape.key?.shape as string] as Shape, shape.key?.shape as string, k, `${path}{key}`, report, 'json');
        checkJson(model, shape.value?.shape as string, v, `${path}.${k}`, report);
      }
      return;
    default:
      checkScalar(shape, shapeName, value, path, report, 'json');
  }
}
