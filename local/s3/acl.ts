import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { S3Error, invalidArgument, malformedXml } from './errors.js';
import { parseXmlBody, restXmlDocument } from '../protocols/rest-xml.js';
import { xmlChild, xmlChildText, xmlChildren, type XmlElement } from '../protocols/xml.js';

/**
 * Access control lists. A canned ACL (`x-amz-acl`) expands into grants the way S3 expands
 * it; `aws-exec-read` gives EC2's canonical user (`za-team`) READ, which is what lets EC2
 * fetch an instance-store bundle's manifest and parts at RegisterImage.
 */
export const CANNED_ACLS = [
  'private',
  'public-read',
  'public-read-write',
  'aws-exec-read',
  'authenticated-read',
  'bucket-owner-read',
  'bucket-owner-full-control',
  'log-delivery-write',
] as const;
export type CannedAcl = (typeof CANNED_ACLS)[number];

export const PERMISSIONS = ['FULL_CONTROL', 'READ', 'WRITE', 'READ_ACP', 'WRITE_ACP'] as const;
export type Permission = (typeof PERMISSIONS)[number];

export type Grantee =
  | { type: 'CanonicalUser'; id: string; displayName?: string }
  | { type: 'Group'; uri: string }
  | { type: 'AmazonCustomerByEmail'; email: string };

export interface Grant {
  grantee: Grantee;
  permission: Permission;
}

export interface Owner {
  id: string;
  displayName: string;
}

/** An ACL as stored: its grants, and the canned ACL it was made from (if it was). */
export interface Acl {
  canned?: CannedAcl;
  grants: Grant[];
}

/** The canonical user EC2 reads bundles as (`aws-exec-read`). */
export const EC2_BUNDLE_READER: Owner = { id: '6aa5a366c34c1cbe25dc49211496e913e0351eb0e8c37aa3477e40942ec6b97c', displayName: 'za-team' };
export const ALL_USERS = 'http://acs.amazonaws.com/groups/global/AllUsers';
export const AUTHENTICATED_USERS = 'http://acs.amazonaws.com/groups/global/AuthenticatedUsers';
export const LOG_DELIVERY = 'http://acs.amazonaws.com/groups/s3/LogDelivery';

/** A stable 64-hex canonical user id for an account of the local cloud. */
export function ownerForAccount(accountId: string): Owner {
  return {
    id: createHash('sha256').update(`ami-factory-local-canonical-user:${accountId}`).digest('hex'),
    displayName: `local-${accountId}`,
  };
}

export function isCannedAcl(s: string): s is CannedAcl {
  return (CANNED_ACLS as readonly string[]).includes(s);
}

const user = (o: Owner, permission: Permission): Grant => ({
  grantee: { type: 'CanonicalUser', id: o.id, displayName: o.displayName },
  permission,
});
const group = (uri: string, permission: Permission): Grant => ({ grantee: { type: 'Group', uri }, permission });

export function cannedGrants(canned: CannedAcl, owner: Owner, bucketOwner: Owner = owner): Grant[] {
  const own = user(owner, 'FULL_CONTROL');
  switch (canned) {
    case 'private':
      return [own];
    case 'public-read':
      return [own, group(ALL_USERS, 'READ')];
    case 'public-read-write':
      return [own, group(ALL_USERS, 'READ'), group(ALL_USERS, 'WRITE')];
    case 'aws-exec-read':
      return [own, user(EC2_BUNDLE_READER, 'READ')];
    case 'authenticated-read':
      return [own, group(AUTHENTICATED_USERS, 'READ')];
    case 'bucket-owner-read':
      return bucketOwner.id === owner.id ? [own] : [own, user(bucketOwner, 'READ')];
    case 'bucket-owner-full-control':
      return bucketOwner.id === owner.id ? [own] : [own, user(bucketOwner, 'FULL_CONTROL')];
    case 'log-delivery-write':
      return [own, group(LOG_DELIVERY, 'WRITE'), group(LOG_DELIVERY, 'READ_ACP')];
  }
}

export function cannedAcl(canned: CannedAcl, owner: Owner, bucketOwner?: Owner): Acl {
  return { canned, grants: cannedGrants(canned, owner, bucketOwner) };
}

function grantKey(g: Grant): string {
  const who = g.grantee.type === 'CanonicalUser' ? g.grantee.id : g.grantee.type === 'Group' ? g.grantee.uri : g.grantee.email;
  return `${g.grantee.type}|${who}|${g.permission}`;
}

/** The canned ACL these grants amount to (first match in CANNED_ACLS order), if any. */
export function matchCanned(grants: Grant[], owner: Owner): CannedAcl | undefined {
  const want = new Set(grants.map(grantKey));
  for (const c of CANNED_ACLS) {
    const have = cannedGrants(c, owner).map(grantKey);
    if (have.length === want.size && have.every((k) => want.has(k))) return c;
  }
  return undefined;
}

/** The name `getObject()` reports: the canned ACL used, or the one the grants amount to, or `custom`. */
export function aclName(acl: Acl, owner: Owner): string {
  return acl.canned ?? matchCanned(acl.grants, owner) ?? 'custom';
}

/**
 * What a bucket with ObjectOwnership BucketOwnerEnforced (ACLs disabled) still accepts: an
 * ACL that only gives the (bucket) owner full control, e.g. `bucket-owner-full-control`.
 */
export function isOwnerOnly(acl: Acl, owner: Owner): boolean {
  return matchCanned(acl.grants, owner) === 'private';
}

export function grantsAllow(acl: Acl, canonicalId: string, permission: 'READ' | 'WRITE'): boolean {
  return acl.grants.some(
    (g) =>
      (g.permission === permission || g.permission === 'FULL_CONTROL') &&
      ((g.grantee.type === 'CanonicalUser' && g.grantee.id === canonicalId) || (g.grantee.type === 'Group' && g.grantee.uri === ALL_USERS)),
  );
}

export function renderAcl(owner: Owner, acl: Acl): string {
  const grantee = (g: Grant['grantee']): XmlElement => {
    const who: XmlElement =
      g.type === 'CanonicalUser'
        ? { ID: g.id, DisplayName: g.displayName }
        : g.type === 'Group'
          ? { URI: g.uri }
          : { EmailAddress: g.email };
    return { '@_xmlns:xsi': 'http://www.w3.org/2001/XMLSchema-instance', '@_xsi:type': g.type, ...who };
  };
  return restXmlDocument('AccessControlPolicy', {
    Owner: { ID: owner.id, DisplayName: owner.displayName },
    AccessControlList: { Grant: acl.grants.map((g) => ({ Grantee: grantee(g.grantee), Permission: g.permission })) },
  });
}

function permission(p: string | undefined): Permission {
  if (p !== undefined && (PERMISSIONS as readonly string[]).includes(p)) return p as Permission;
  throw malformedAcl();
}

function malformedAcl(): S3Error {
  return new S3Error('MalformedACLError', 400, 'The XML you provided was not well-formed or did not validate against our published schema');
}

/** An `AccessControlPolicy` request body (PutObjectAcl / PutBucketAcl with explicit grants). */
export function parseAclXml(body: Buffer): Grant[] {
  const doc = parseXmlBody(body, ['Grant'], malformedXml);
  const policy = xmlChild(doc, 'AccessControlPolicy');
  if (policy === undefined) throw malformedAcl();
  const grants: Grant[] = [];
  for (const g of xmlChildren(xmlChild(policy, 'AccessControlList'), 'Grant')) {
    const grantee = xmlChild(g, 'Grantee');
    if (grantee === undefined) throw malformedAcl();
    const type = xmlChildText(grantee, '@_xsi:type');
    const perm = permission(xmlChildText(g, 'Permission'));
    const id = xmlChildText(grantee, 'ID');
    const uri = xmlChildText(grantee, 'URI');
    const email = xmlChildText(grantee, 'EmailAddress');
    if ((type === 'CanonicalUser' || type === undefined) && id !== undefined) {
      const displayName = xmlChildText(grantee, 'DisplayName');
      grants.push({ grantee: { type: 'CanonicalUser', id, ...(displayName !== undefined ? { displayName } : {}) }, permission: perm });
    } else if ((type === 'Group' || type === undefined) && uri !== undefined) {
      grants.push({ grantee: { type: 'Group', uri }, permission: perm });
    } else if ((type === 'AmazonCustomerByEmail' || type === undefined) && email !== undefined) {
      grants.push({ grantee: { type: 'AmazonCustomerByEmail', email }, permission: perm });
    } else {
      throw malformedAcl();
    }
  }
  return grants;
}

const GRANT_HEADERS: [string, Permission][] = [
  ['x-amz-grant-full-control', 'FULL_CONTROL'],
  ['x-amz-grant-read', 'READ'],
  ['x-amz-grant-write', 'WRITE'],
  ['x-amz-grant-read-acp', 'READ_ACP'],
  ['x-amz-grant-write-acp', 'WRITE_ACP'],
];

/** Grants from `x-amz-grant-*` headers (`id="…", uri="…", emailAddress="…"`), or undefined when none is present. */
export function grantsFromHeaders(headers: IncomingHttpHeaders): Grant[] | undefined {
  let found = false;
  const grants: Grant[] = [];
  for (const [name, perm] of GRANT_HEADERS) {
    const v = headers[name];
    if (typeof v !== 'string') continue;
    found = true;
    for (const item of v.split(',')) {
      const m = /^\s*(id|uri|emailAddress)\s*=\s*"?([^"]*)"?\s*$/i.exec(item);
      if (m === null) throw invalidArgument(`Invalid grant header value ${item.trim()}`, name, v);
      const kind = (m[1] as string).toLowerCase();
      const value = m[2] as string;
      grants.push({
        grantee:
          kind === 'id'
            ? { type: 'CanonicalUser', id: value }
            : kind === 'uri'
              ? { type: 'Group', uri: value }
              : { type: 'AmazonCustomerByEmail', email: value },
        permission: perm,
      });
    }
  }
  return found ? grants : undefined;
}
