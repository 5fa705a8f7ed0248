import { readFileSync } from 'node:fs';
import { parse, type CollectionTag, type ScalarTag } from 'yaml';
import type { JsonObject, JsonValue } from '../json.js';

/**
 * CloudFormation templates as the local cloud reads them: the JSON that `osls package` writes
 * (`.serverless/cloudformation-template-update-stack.json`), and YAML templates a user deploys
 * by hand (`resources/region-forwarder.yml`), whose short-form tags (`!Sub`, `!GetAtt`, `!Ref`,
 * ...) become the long form (`{ "Fn::Sub": ... }`) exactly as CloudFormation reads them.
 */
export interface CfnResource {
  Type: string;
  Properties?: JsonObject;
  DependsOn?: string | string[];
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
  Condition?: string;
  Metadata?: JsonObject;
}

export interface CfnParameter {
  Type: string;
  Default?: JsonValue;
  Description?: string;
  AllowedValues?: JsonValue[];
}

export interface CfnTemplate {
  AWSTemplateFormatVersion?: string;
  Description?: string;
  Parameters?: Record<string, CfnParameter>;
  Conditions?: JsonObject;
  Mappings?: JsonObject;
  Resources: Record<string, CfnResource>;
  Outputs?: Record<string, { Value: JsonValue; Description?: string; Export?: JsonObject; Condition?: string }>;
}

/** A template that cannot be read as one (not JSON/YAML, or no Resources). */
export class TemplateFormatError extends Error {
  override name = 'TemplateFormatError';
}

/** The intrinsic functions CloudFormation's YAML short forms stand for. */
const SHORT_FORMS: Record<string, string> = {
  Ref: 'Ref',
  Sub: 'Fn::Sub',
  GetAtt: 'Fn::GetAtt',
  Join: 'Fn::Join',
  Select: 'Fn::Select',
  Split: 'Fn::Split',
  If: 'Fn::If',
  Equals: 'Fn::Equals',
  Not: 'Fn::Not',
  And: 'Fn::And',
  Or: 'Fn::Or',
  FindInMap: 'Fn::FindInMap',
  ImportValue: 'Fn::ImportValue',
  GetAZs: 'Fn::GetAZs',
  Base64: 'Fn::Base64',
  Cidr: 'Fn::Cidr',
  Condition: 'Condition',
};

function cfnTags(): (ScalarTag | CollectionTag)[] {
  const tags: (ScalarTag | CollectionTag)[] = [];
  for (const [short, long] of Object.entries(SHORT_FORMS)) {
    const wrap = (value: unknown): JsonObject => {
      // `!GetAtt A.B` is the string form of `Fn::GetAtt: [A, B]`.
      if (long === 'Fn::GetAtt' && typeof value === 'string') {
        const dot = value.indexOf('.');
        return { [long]: dot < 0 ? [value] : [value.slice(0, dot), value.slice(dot + 1)] };
      }
      return { [long]: value as JsonValue };
    };
    tags.push({ tag: `!${short}`, resolve: (value: string) => wrap(value) } as ScalarTag);
    tags.push({ tag: `!${short}`, collection: 'seq', resolve: (value) => wrap(value.toJSON()) } as CollectionTag);
    tags.push({ tag: `!${short}`, collection: 'map', resolve: (value) => wrap(value.toJSON()) } as CollectionTag);
  }
  return tags;
}

export function parseTemplate(text: string, source: string): CfnTemplate {
  let doc: unknown;
  try {
    doc = text.trimStart().startsWith('{') ? JSON.parse(text) : parse(text, { customTags: cfnTags(), maxAliasCount: 1000 });
  } catch (e) {
    throw new TemplateFormatError(`${source}: not a CloudFormation template (${e instanceof Error ? e.message : String(e)})`, { cause: e });
  }
  if (typeof doc !== 'object' || doc === null || typeof (doc as { Resources?: unknown }).Resources !== 'object') {
    throw new TemplateFormatError(`${source}: a CloudFormation template needs a Resources section`);
  }
  return doc as CfnTemplate;
}

export function readTemplate(path: string): CfnTemplate {
  return parseTemplate(readFileSync(path, 'utf8'), path);
}
