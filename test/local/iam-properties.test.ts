import fc from 'fast-check';
import {
  evaluate,
  PolicyNotUnderstoodError,
  type ContextValue,
  type DecisionEffect,
  type Principal,
  type Request,
} from '../../local/iam/index.js';
import {
  ACCOUNT,
  doc,
  EVENTS,
  iamCatalog,
  identityPolicy,
  OTHER_ACCOUNT,
  OTHER_SESSION,
  resourcePolicy,
  ROLE_ARN,
  ROOT,
  SESSION,
  USER,
} from './iam-fixtures.js';

/**
 * Properties of the evaluator on random policies and requests, drawn from small pools of
 * actions, ARNs, condition keys and values so that statements often do apply.
 */

type Json = Record<string, unknown>;

const REQUEST_ACTIONS = [
  'ec2:CreateImage',
  'ec2:DescribeImages',
  'ec2:DeregisterImage',
  's3:GetObject',
  's3:PutObject',
  's3:ListBucket',
  'states:StartExecution',
];
const ACTION_PATTERNS = [...REQUEST_ACTIONS, 'ec2:*', 'ec2:Describe*', 's3:Get*', 's3:?utObject', '*', 'EC2:createimage', 'states:Start*'];
/** Never requested: a statement naming only this action cannot apply. */
const UNREQUESTED_ACTION = 'iam:ListUsers';
const REQUEST_RESOURCES = [
  '*',
  'arn:aws:ec2:us-east-1::image/ami-1',
  'arn:aws:ec2:eu-west-1::snapshot/snap-1',
  'arn:aws:s3:::bucket/home/alice/a.txt',
  'arn:aws:s3:::bucket',
  `arn:aws:states:us-east-1:${ACCOUNT}:stateMachine:sm`,
];
const RESOURCE_PATTERNS = [
  '*',
  'arn:aws:ec2:*::image/*',
  'arn:aws:ec2:us-east-1::*',
  'arn:aws:s3:::bucket/*',
  'arn:aws:s3:::bucket',
  'arn:aws:s3:::bucket/home/${aws:username}/*',
  'arn:aws:*:*:*:*',
  'arn:aws:states:*:111122223333:stateMachine:?m',
];

type Family = 'String' | 'Numeric' | 'Date' | 'Bool' | 'IpAddress' | 'Arn';

interface KeySpec {
  key: string;
  family: Family;
  multivalued?: boolean;
  policyValues: string[];
  requestValue: fc.Arbitrary<ContextValue>;
}

const KEYS: KeySpec[] = [
  {
    key: 'aws:PrincipalTag/team',
    family: 'String',
    policyValues: ['images', 'ops', 'im*', '${aws:username}', ''],
    requestValue: fc.constantFrom('images', 'ops', 'IMAGES', ''),
  },
  {
    key: 's3:prefix',
    family: 'String',
    policyValues: ['home/*', 'home/${aws:username}/*', "${aws:username, 'anon'}", 'a?c', 'abc', '${*}'],
    requestValue: fc.constantFrom('home/alice/x', 'abc', 'anon', 'a?c', 'home//x', '*'),
  },
  { key: 'aws:username', family: 'String', policyValues: ['alice', 'bob'], requestValue: fc.constantFrom('alice', 'bob') },
  {
    key: 's3:max-keys',
    family: 'Numeric',
    policyValues: ['0', '10', '2.5', '-1'],
    requestValue: fc.oneof(fc.integer({ min: -2, max: 12 }), fc.constant('10')),
  },
  {
    key: 'aws:CurrentTime',
    family: 'Date',
    policyValues: ['2026-11-23T07:42:10Z', '2020', '2030-01-01', '1795419730'],
    requestValue: fc.oneof(
      fc.constantFrom('2026-11-23T07:42:10Z', '2019-01-01T00:00:00Z'),
      fc.date({ min: new Date('2019-01-01'), max: new Date('2031-01-01'), noInvalidDate: true }),
    ),
  },
  { key: 'aws:SecureTransport', family: 'Bool', policyValues: ['true', 'false'], requestValue: fc.boolean() },
  {
    key: 'aws:SourceIp',
    family: 'IpAddress',
    policyValues: ['203.0.113.0/24', '10.0.0.0/8', '2001:db8::/32', '198.51.100.7'],
    requestValue: fc.constantFrom('203.0.113.9', '10.1.1.1', '2001:db8::1', '198.51.100.7', '8.8.8.8'),
  },
  {
    key: 'aws:SourceArn',
    family: 'Arn',
    policyValues: ['arn:aws:events:*:111122223333:rule/*', 'arn:aws:sns:us-east-1:*:t', '${aws:PrincipalArn}'],
    requestValue: fc.constantFrom(`arn:aws:events:us-east-1:${ACCOUNT}:rule/r`, `arn:aws:sns:us-east-1:${ACCOUNT}:t`, ROLE_ARN),
  },
  {
    key: 'aws:PrincipalArn',
    family: 'Arn',
    policyValues: [ROLE_ARN, 'arn:aws:iam::*:role/*'],
    requestValue: fc.constantFrom(ROLE_ARN, USER.arn),
  },
  {
    key: 'aws:TagKeys',
    family: 'String',
    multivalued: true,
    policyValues: ['ami-factory:*', 'Name', 'a'],
    requestValue: fc.subarray(['ami-factory:managed', 'Name', 'a', 'b']),
  },
];

const OPERATORS_OF: Record<Family, string[]> = {
  String: ['StringEquals', 'StringNotEquals', 'StringEqualsIgnoreCase', 'StringNotEqualsIgnoreCase', 'StringLike', 'StringNotLike'],
  Numeric: [
    'NumericEquals',
    'NumericNotEquals',
    'NumericLessThan',
    'NumericLessThanEquals',
    'NumericGreaterThan',
    'NumericGreaterThanEquals',
  ],
  Date: ['DateEquals', 'DateNotEquals', 'DateLessThan', 'DateLessThanEquals', 'DateGreaterThan', 'DateGreaterThanEquals'],
  Bool: ['Bool'],
  IpAddress: ['IpAddress', 'NotIpAddress'],
  Arn: ['ArnEquals', 'ArnLike', 'ArnNotEquals', 'ArnNotLike'],
};

interface Clause {
  operator: string;
  key: string;
  values: string[];
}

const clauseArb: fc.Arbitrary<Clause> = fc.constantFrom(...KEYS).chain((spec) =>
  fc
    .record({
      isNull: fc.boolean().map((b) => b && Math.random() < 0.3),
      base: fc.constantFrom(...OPERATORS_OF[spec.family]),
      set: spec.multivalued
        ? fc.constantFrom('ForAllValues:', 'ForAnyValue:')
        : fc.constantFrom('', '', '', '', 'ForAllValues:', 'ForAnyValue:'),
      ifExists: fc.boolean(),
      values: fc.uniqueArray(fc.constantFrom(...spec.policyValues), { minLength: 1, maxLength: spec.family === 'Bool' ? 1 : 3 }),
      nullValue: fc.constantFrom('true', 'false'),
    })
    .map(({ isNull, base, set, ifExists, values, nullValue }): Clause => {
      if (isNull) return { operator: 'Null', key: spec.key, values: [nullValue] };
      const suffix = ifExists && set !== 'ForAnyValue:' ? 'IfExists' : '';
      return { operator: `${set}${base}${suffix}`, key: spec.key, values };
    }),
);

function conditionOf(clauses: Clause[]): Json | undefined {
  if (clauses.length === 0) return undefined;
  const condition: Record<string, Record<string, string[]>> = {};
  for (const c of clauses) (condition[c.operator] ??= {})[c.key] = c.values;
  return condition;
}

const statementArb: fc.Arbitrary<Json> = fc
  .record({
    effect: fc.constantFrom('Allow', 'Allow', 'Deny'),
    notAction: fc.constantFrom(false, false, false, false, true),
    actions: fc.uniqueArray(fc.constantFrom(...ACTION_PATTERNS), { minLength: 1, maxLength: 3 }),
    notResource: fc.constantFrom(false, false, false, false, false, true),
    resources: fc.uniqueArray(fc.constantFrom(...RESOURCE_PATTERNS), { minLength: 1, maxLength: 2 }),
    clauses: fc.uniqueArray(clauseArb, { maxLength: 3, selector: (c) => `${c.operator}|${c.key.toLowerCase()}` }),
  })
  .map(({ effect, notAction, actions, notResource, resources, clauses }) => {
    const s: Json = {
      Effect: effect,
      [notAction ? 'NotAction' : 'Action']: actions,
      [notResource ? 'NotResource' : 'Resource']: resources,
    };
    const condition = conditionOf(clauses);
    if (condition !== undefined) s.Condition = condition;
    return s;
  });

const PRINCIPALS_IN_POLICIES: unknown[] = [
  '*',
  { AWS: ROLE_ARN },
  { AWS: ACCOUNT },
  { AWS: OTHER_ACCOUNT },
  { AWS: USER.arn },
  { Service: 'events.amazonaws.com' },
];
const resourceStatementArb: fc.Arbitrary<Json> = fc
  .tuple(statementArb, fc.constantFrom(...PRINCIPALS_IN_POLICIES))
  .map(([s, principal]) => ({ ...s, Principal: principal }));

interface Scenario {
  identity: Json[][];
  resource: Json[][];
  principal: Principal;
  action: string;
  resourceArn: string;
  context: Record<string, ContextValue>;
}

const contextArb: fc.Arbitrary<Record<string, ContextValue>> = fc
  .tuple(...KEYS.map((k) => fc.option(k.requestValue, { nil: undefined, freq: 2 })))
  .map((values) => {
    const context: Record<string, ContextValue> = {};
    values.forEach((v, i) => {
      if (v !== undefined) context[(KEYS[i] as KeySpec).key] = v;
    });
    return context;
  });

const scenarioArb: fc.Arbitrary<Scenario> = fc.record({
  identity: fc.array(fc.array(statementArb, { minLength: 1, maxLength: 4 }), { minLength: 0, maxLength: 3 }),
  resource: fc.array(fc.array(resourceStatementArb, { minLength: 1, maxLength: 3 }), { minLength: 0, maxLength: 1 }),
  principal: fc.constantFrom(SESSION, SESSION, USER, OTHER_SESSION, EVENTS, ROOT),
  action: fc.constantFrom(...REQUEST_ACTIONS),
  resourceArn: fc.constantFrom(...REQUEST_RESOURCES),
  context: contextArb,
});

function requestOf(s: Scenario): Request {
  return { principal: s.principal, action: s.action, resource: s.resourceArn, context: s.context };
}

function decide(s: Scenario): DecisionEffect {
  return evaluate(requestOf(s), {
    identity: s.identity.map((statements, i) => identityPolicy(doc(statements), `identity-${i}`)),
    resource: s.resource.map((statements, i) => resourcePolicy(doc(statements), `resource-${i}`)),
  }).effect;
}

/** A deterministic shuffle driven by a generated seed. */
function shuffle<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let x = seed | 1;
  for (let i = out.length - 1; i > 0; i--) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const j = Math.abs(x) % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

const RUNS = { numRuns: 300 };
let KNOWN_SERVICES = new Set<string>();

beforeAll(async () => {
  KNOWN_SERVICES = new Set((await iamCatalog()).servicePrefixes());
});

describe('evaluate (properties)', () => {
  it('never throws for well-formed policies and requests, and always gives a reason', () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const decision = evaluate(requestOf(s), {
          identity: s.identity.map((st) => identityPolicy(doc(st))),
          resource: s.resource.map((st) => resourcePolicy(doc(st))),
        });
        expect(['Allow', 'ExplicitDeny', 'ImplicitDeny']).toContain(decision.effect);
        expect(decision.reason.length).toBeGreaterThan(0);
      }),
      RUNS,
    );
  });

  it('lets an applicable explicit deny win, wherever it is', () => {
    fc.assert(
      fc.property(scenarioArb, fc.boolean(), fc.nat(), (s, inResource, at) => {
        // Prepare: a Deny that applies to the request, in an identity-based policy or in a
        // resource-based one (the only kind a service principal has).
        const deny = { Effect: 'Deny', Action: s.action, Resource: '*' };
        const scenario = structuredClone(s);
        if (inResource || s.principal.type === 'Service') {
          const target = scenario.resource[0] ?? [];
          target.splice(at % (target.length + 1), 0, { ...deny, Principal: '*' });
          scenario.resource[0] = target;
        } else {
          const target = scenario.identity[at % (scenario.identity.length + 1)] ?? [];
          target.splice(at % (target.length + 1), 0, deny);
          if (!scenario.identity.includes(target)) scenario.identity.push(target);
        }

        // Act / Assess
        expect(decide(scenario)).toBe('ExplicitDeny');
      }),
      RUNS,
    );
  });

  it('does not depend on the order of statements or of policies', () => {
    fc.assert(
      fc.property(scenarioArb, fc.integer(), (s, seed) => {
        const shuffled: Scenario = {
          ...s,
          identity: shuffle(
            s.identity.map((st, i) => shuffle(st, seed + i)),
            seed,
          ),
          resource: s.resource.map((st, i) => shuffle(st, seed - i)),
        };
        expect(decide(shuffled)).toBe(decide(s));
      }),
      RUNS,
    );
  });

  it("does not change when a statement's action list is split into one statement per action", () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const split = (statements: Json[]): Json[] =>
          statements.flatMap((st) => (Array.isArray(st.Action) ? (st.Action as string[]).map((a) => ({ ...st, Action: a })) : [st]));
        expect(decide({ ...s, identity: s.identity.map(split), resource: s.resource.map(split) })).toBe(decide(s));
      }),
      RUNS,
    );
  });

  it('allows with NotAction X exactly the requests that Action X does not allow', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.constantFrom(...ACTION_PATTERNS), { minLength: 1, maxLength: 3 }),
        fc.constantFrom(...REQUEST_ACTIONS),
        fc.constantFrom(...REQUEST_RESOURCES),
        (actions, action, resource) => {
          const base: Scenario = { identity: [], resource: [], principal: SESSION, action, resourceArn: resource, context: {} };
          const withAction = decide({ ...base, identity: [[{ Effect: 'Allow', Action: actions, Resource: '*' }]] });
          const withNotAction = decide({ ...base, identity: [[{ Effect: 'Allow', NotAction: actions, Resource: '*' }]] });
          expect(withNotAction === 'Allow').toBe(withAction !== 'Allow');
        },
      ),
      RUNS,
    );
  });

  it('does not change when a statement that cannot apply is added', () => {
    fc.assert(
      fc.property(scenarioArb, statementArb, fc.boolean(), fc.nat(), (s, extra, inResource, at) => {
        const { NotAction: _notAction, ...rest } = extra;
        const never: Json = { ...rest, Action: UNREQUESTED_ACTION };
        const scenario = structuredClone(s);
        if (inResource && scenario.resource[0] !== undefined)
          scenario.resource[0].splice(at % (scenario.resource[0].length + 1), 0, { ...never, Principal: '*' });
        else scenario.identity.push([never]);
        expect(decide(scenario)).toBe(decide(s));
      }),
      RUNS,
    );
  });

  it('treats an …IfExists condition on a key the request does not carry as absent', () => {
    fc.assert(
      fc.property(
        scenarioArb,
        fc.constantFrom(...OPERATORS_OF.String, ...OPERATORS_OF.Numeric.slice(0, 1)),
        fc.nat(),
        (s, operator, at) => {
          if (s.identity.length === 0) return;
          const scenario = structuredClone(s);
          const statements = scenario.identity[at % scenario.identity.length] as Json[];
          const statement = statements[at % statements.length] as Json;
          const condition = (statement.Condition ?? {}) as Record<string, Record<string, string>>;
          // ec2:InstanceType is never in the generated requests.
          (condition[`${operator}IfExists`] ??= {})['ec2:InstanceType'] = operator.startsWith('Numeric') ? '1' : 't3.micro';
          statement.Condition = condition;
          expect(decide(scenario)).toBe(decide(s));
        },
      ),
      RUNS,
    );
  });

  it('decides StringLike without wildcards as StringEquals (and StringNotLike as StringNotEquals)', () => {
    const text = fc.string({ maxLength: 6 }).filter((t) => !/[*?]|\$\{/.test(t));
    fc.assert(
      fc.property(
        fc.uniqueArray(text, { minLength: 1, maxLength: 3 }),
        fc.oneof(text, fc.constant(undefined)),
        fc.array(text, { maxLength: 3 }),
        fc.constantFrom('', 'ForAllValues:', 'ForAnyValue:'),
        fc.boolean(),
        fc.boolean(),
        (values, value, tagKeys, set, negated, ifExists) => {
          const suffix = ifExists && set !== 'ForAnyValue:' ? 'IfExists' : '';
          const key = set === '' ? 's3:prefix' : 'aws:TagKeys';
          const context: Record<string, ContextValue> =
            set === '' ? (value === undefined ? {} : { 's3:prefix': value }) : { 'aws:TagKeys': tagKeys };
          const decideWith = (base: string): DecisionEffect =>
            decide({
              identity: [[{ Effect: 'Allow', Action: '*', Resource: '*', Condition: { [`${set}${base}${suffix}`]: { [key]: values } } }]],
              resource: [],
              principal: SESSION,
              action: 's3:ListBucket',
              resourceArn: 'arn:aws:s3:::bucket',
              context,
            });
          expect(decideWith(negated ? 'StringNotLike' : 'StringLike')).toBe(decideWith(negated ? 'StringNotEquals' : 'StringEquals'));
        },
      ),
      RUNS,
    );
  });

  it('matches action names whatever their case', () => {
    fc.assert(
      fc.property(scenarioArb, fc.boolean(), (s, upper) => {
        const recase = (statements: Json[]): Json[] =>
          statements.map((st) => {
            const key = st.Action !== undefined ? 'Action' : 'NotAction';
            return { ...st, [key]: (st[key] as string[]).map((a) => (upper ? a.toUpperCase() : a.toLowerCase())) };
          });
        expect(decide({ ...s, identity: s.identity.map(recase), resource: s.resource.map(recase) })).toBe(decide(s));
      }),
      RUNS,
    );
  });

  it('never allows less when an Allow statement covers every resource instead of some', () => {
    let allowed = 0;
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const allowsOnly = (statements: Json[]): Json[] => statements.filter((st) => st.Effect === 'Allow');
        const narrow: Scenario = {
          ...s,
          identity: s.identity.map(allowsOnly).filter((p) => p.length > 0),
          resource: s.resource.map(allowsOnly).filter((p) => p.length > 0),
        };
        const widen = (statements: Json[]): Json[] =>
          statements.map((st) => {
            const { NotResource: _n, ...rest } = st;
            return { ...rest, Resource: '*' };
          });
        const wide: Scenario = { ...narrow, identity: narrow.identity.map(widen), resource: narrow.resource.map(widen) };
        if (decide(narrow) !== 'Allow') return;
        allowed++;
        expect(decide(wide)).toBe('Allow');
      }),
      RUNS,
    );
    // The implication is only a check if some drawn scenarios were allowed to begin with.
    expect(allowed).toBeGreaterThan(0);
  });
});

describe('parsePolicy (properties)', () => {
  const KNOWN = new Set([
    'Version',
    'Id',
    'Statement',
    'Sid',
    'Effect',
    'Principal',
    'NotPrincipal',
    'Action',
    'NotAction',
    'Resource',
    'NotResource',
    'Condition',
  ]);
  const name = fc.string({ minLength: 1, maxLength: 12 }).filter((n) => !KNOWN.has(n) && n !== '__proto__');

  it('refuses any unknown element, at any level', () => {
    fc.assert(
      fc.property(
        statementArb,
        name,
        fc.jsonValue(),
        fc.constantFrom('top', 'statement', 'operator', 'principal'),
        (statement, element, value, where) => {
          // Prepare
          let document: Json;
          let kind: 'identity' | 'resource' = 'identity';
          if (where === 'top') document = { ...doc([statement]), [element]: value };
          else if (where === 'statement') document = doc([{ ...statement, [element]: value }]);
          else if (where === 'operator')
            document = doc([
              { ...statement, Condition: { ...((statement.Condition as Json | undefined) ?? {}), [element]: { 's3:prefix': 'a' } } },
            ]);
          else {
            kind = 'resource';
            document = doc([{ ...statement, Principal: { [element]: '111122223333' } }]);
          }

          // Act / Assess
          const parse = (): unknown => (kind === 'identity' ? identityPolicy(document) : resourcePolicy(document));
          expect(parse).toThrow(PolicyNotUnderstoodError);
        },
      ),
      RUNS,
    );
  });

  it('refuses an action or condition key of a service the reference does not know', () => {
    fc.assert(
      fc.property(statementArb, fc.stringMatching(/^[a-z]{3,10}$/), fc.boolean(), (statement, service, inAction) => {
        fc.pre(!KNOWN_SERVICES.has(service));
        const { NotAction: _notAction, ...rest } = statement;
        const document = inAction
          ? doc([{ ...rest, Action: `${service}:DoThing` }])
          : doc([{ ...statement, Condition: { StringEquals: { [`${service}:key`]: 'a' } } }]);
        expect(() => identityPolicy(document)).toThrow(PolicyNotUnderstoodError);
      }),
      RUNS,
    );
  });
});
