'use strict';
/**
 * An osls plugin that tidies what the framework and serverless-step-functions generate, so the
 * packaged template is cfn-lint clean with informational checks (.ci/cfn-lint.sh):
 *
 * - W3005: a DependsOn already implied by a Ref, Fn::GetAtt or Fn::Sub of the same resource
 *   (every function's role, every state machine's role) is dropped.
 * - I3011: the functions' log groups get an explicit DeletionPolicy and UpdateReplacePolicy
 *   (Delete, CloudFormation's default: a retained group would make the next deployment of the
 *   stack fail on its name; the logs' lifetime is provider.logRetentionInDays).
 * - I1022: an Fn::Join with an empty delimiter of strings, Refs and GetAtts becomes the
 *   equivalent Fn::Sub.
 * - I3042: the state machines' definitions name the partition with ${AWS::Partition} instead of
 *   `arn:aws:` (the ASL files keep `arn:aws:states:::lambda:invoke`, which the local engine and
 *   serverless-step-functions' validation read; the Fn::Sub resolves it per partition).
 *
 * No library does this: it rewrites the one template the framework hands its plugins.
 */

const SUB_PLACEHOLDER = /\$\{([A-Za-z0-9:.]+)\}/g;

/** The logical ids a value refers to (Ref, Fn::GetAtt, Fn::Sub placeholders). */
function referencedIds(node, out = new Set()) {
  if (Array.isArray(node)) {
    for (const n of node) referencedIds(n, out);
    return out;
  }
  if (node === null || typeof node !== 'object') return out;
  for (const [k, v] of Object.entries(node)) {
    if (k === 'Ref' && typeof v === 'string') out.add(v);
    else if (k === 'Fn::GetAtt') out.add(Array.isArray(v) ? String(v[0]) : String(v).split('.')[0]);
    else if (k === 'Fn::Sub') {
      const text = Array.isArray(v) ? v[0] : v;
      if (typeof text === 'string') for (const m of text.matchAll(SUB_PLACEHOLDER)) out.add(m[1].split('.')[0]);
      if (Array.isArray(v)) referencedIds(v[1], out);
    } else referencedIds(v, out);
  }
  return out;
}

/** An Fn::Join with '' of strings, Refs and GetAtts as an Fn::Sub string, or undefined. */
function joinAsSub(node) {
  const join = node['Fn::Join'];
  if (!Array.isArray(join) || join[0] !== '' || !Array.isArray(join[1])) return undefined;
  let text = '';
  for (const part of join[1]) {
    if (typeof part === 'string') {
      if (part.includes('${')) return undefined;
      text += part;
    } else if (part && typeof part.Ref === 'string' && Object.keys(part).length === 1) text += `\${${part.Ref}}`;
    else if (part && Array.isArray(part['Fn::GetAtt']) && Object.keys(part).length === 1) text += `\${${part['Fn::GetAtt'].join('.')}}`;
    else return undefined;
  }
  return { 'Fn::Sub': text };
}

function rewriteJoins(node) {
  if (Array.isArray(node)) return node.map(rewriteJoins);
  if (node === null || typeof node !== 'object') return node;
  const sub = Object.keys(node).length === 1 ? joinAsSub(node) : undefined;
  if (sub !== undefined) return sub;
  return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, rewriteJoins(v)]));
}

const PARTITION_ARN = /"arn:aws:/g;

function tidy(template) {
  const resources = template.Resources || {};
  for (const [id, r] of Object.entries(resources)) {
    if (r.DependsOn !== undefined) {
      const refs = referencedIds(r.Properties);
      const kept = (Array.isArray(r.DependsOn) ? r.DependsOn : [r.DependsOn]).filter((d) => !refs.has(d));
      if (kept.length === 0) delete r.DependsOn;
      else r.DependsOn = kept;
    }
    if (r.Type === 'AWS::Logs::LogGroup') {
      r.DeletionPolicy = r.DeletionPolicy || 'Delete';
      r.UpdateReplacePolicy = r.UpdateReplacePolicy || 'Delete';
    }
    if (r.Type === 'AWS::StepFunctions::StateMachine' && r.Properties && r.Properties.DefinitionString !== undefined) {
      const d = r.Properties.DefinitionString;
      if (typeof d === 'string') r.Properties.DefinitionString = { 'Fn::Sub': d.replace(PARTITION_ARN, '"arn:${AWS::Partition}:') };
      else if (d && Array.isArray(d['Fn::Sub']) && typeof d['Fn::Sub'][0] === 'string')
        d['Fn::Sub'][0] = d['Fn::Sub'][0].replace(PARTITION_ARN, '"arn:${AWS::Partition}:');
      else if (d && typeof d['Fn::Sub'] === 'string') d['Fn::Sub'] = d['Fn::Sub'].replace(PARTITION_ARN, '"arn:${AWS::Partition}:');
    }
    resources[id] = r.Properties === undefined ? r : { ...r, Properties: rewriteJoins(r.Properties) };
  }
  return template;
}

class CfnTidy {
  constructor(serverless) {
    this.hooks = {
      'before:package:finalize': () => {
        tidy(serverless.service.provider.compiledCloudFormationTemplate);
      },
    };
  }
}

module.exports = CfnTidy;
module.exports.tidy = tidy;
module.exports.referencedIds = referencedIds;
