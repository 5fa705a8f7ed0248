import {
  DescribeImagesCommand,
  DisableImageCommand,
  DeregisterImageCommand,
  EC2Client,
  GetConsoleOutputCommand,
  RunInstancesCommand,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { ImageTestsSchema } from '../../functions/lib/build-request.js';
import { instanceClientToken } from '../../functions/lib/ec2/builder.js';
import { judgeTest, launchTestInstance, rejectTestedImage, tailOf, verdictOf } from '../../functions/lib/ec2/image-test.js';
import { testScript } from '../../functions/lib/userdata.js';
import { testOutcome } from '../../functions/lib/wait-outcome.js';
import { testPlan } from '../../local/ec2/instances.js';
import { awsError, BUILD_ID, buildRequest, IMAGE_ID } from '../fixtures.js';

const ec2 = mockClient(EC2Client);
const client = () => ec2 as unknown as EC2Client;
const INSTANCE = 'i-0123456789abcdef0';
const tests = ImageTestsSchema.parse({ script: 'curl -fsS localhost', regions: { 'eu-west-1': { subnetId: 'subnet-0123456789abcdef0' } } });
const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

describe('image test verdict (judge)', () => {
  beforeEach(() => ec2.reset());

  it('passes when the wait succeeded, without reading the console', async () => {
    expect(await judgeTest(client(), INSTANCE, null)).toEqual({ status: 'passed', instanceId: INSTANCE, reason: null, consoleTail: null });
    expect(ec2.commandCalls(GetConsoleOutputCommand)).toHaveLength(0);
  });

  it('fails with the reason and the tail of the base64 console output', async () => {
    const console = Array.from({ length: 40 }, (_, i) => `line ${i}`).join('\r\n');
    ec2.on(GetConsoleOutputCommand).resolves({ InstanceId: INSTANCE, Output: b64(console), Timestamp: new Date() });
    const v = await judgeTest(client(), INSTANCE, {
      Error: 'ImageTestFailedError',
      Cause: JSON.stringify({ errorMessage: 'tagged failed' }),
    });
    expect(v.status).toBe('failed');
    expect(v.reason).toBe('the test failed (ImageTestFailedError: tagged failed)');
    expect(v.consoleTail?.split('\n')).toHaveLength(20);
    expect(v.consoleTail?.endsWith('line 39')).toBe(true);
    expect(ec2.commandCalls(GetConsoleOutputCommand)[0]?.args[0].input).toEqual({ InstanceId: INSTANCE });
  });

  it('is timed-out for the sweeper timeout and the state timeout; no console where EC2 gives none', async () => {
    ec2.on(GetConsoleOutputCommand).resolves({ InstanceId: INSTANCE });
    expect((await judgeTest(client(), INSTANCE, { Error: 'ImageTestTimeoutError', Cause: 'late' })).status).toBe('timed-out');
    expect(verdictOf(INSTANCE, { Error: 'States.Timeout' }, null).status).toBe('timed-out');
    ec2.reset();
    ec2.on(GetConsoleOutputCommand).rejects(awsError('InvalidInstanceID.NotFound'));
    expect(await judgeTest(client(), INSTANCE, { Error: 'ImageTestFailedError' })).toMatchObject({ status: 'failed', consoleTail: null });
  });

  it('fails a launch that never made an instance, without calling EC2', async () => {
    expect(await judgeTest(client(), null, { Error: 'UnauthorizedOperation', Cause: 'denied' })).toMatchObject({
      status: 'failed',
      instanceId: null,
    });
    expect(ec2.commandCalls(GetConsoleOutputCommand)).toHaveLength(0);
  });

  it('keeps at most 2000 characters of the tail', () => {
    expect(tailOf('x'.repeat(5000))).toHaveLength(2000);
  });
});

describe('test wait outcome', () => {
  const inst = (state: string, status?: string) => ({
    InstanceId: INSTANCE,
    State: { Name: state as 'running' },
    Tags: status === undefined ? [] : [{ Key: 'ami-factory:test-status', Value: status }],
  });
  it('passes on stopped (stop) or the passed tag (tag), fails on the failed tag or a vanished instance', () => {
    expect(testOutcome(INSTANCE, inst('stopped'), 'stopped')).toMatchObject({ done: true, success: true });
    expect(testOutcome(INSTANCE, inst('running'), 'stopped')).toEqual({ done: false });
    expect(testOutcome(INSTANCE, inst('running', 'passed'), 'tag')).toMatchObject({ done: true, success: true });
    expect(testOutcome(INSTANCE, inst('running', 'failed'), 'tag')).toMatchObject({
      done: true,
      success: false,
      error: 'ImageTestFailedError',
    });
    expect(testOutcome(INSTANCE, inst('running', 'done'), 'tag')).toEqual({ done: false });
    expect(testOutcome(INSTANCE, undefined, 'stopped')).toMatchObject({ done: true, success: false });
  });
});

describe('launchTestInstance', () => {
  beforeEach(() => ec2.reset());
  it('launches from the region image with a per-(build, region) ClientToken, the test tags and the region network', async () => {
    ec2.on(RunInstancesCommand).resolves({ Instances: [{ InstanceId: INSTANCE }] });
    expect(await launchTestInstance(client(), buildRequest(), tests, { region: 'eu-west-1', imageId: IMAGE_ID, run: 'exec-1' })).toEqual({
      instanceId: INSTANCE,
    });
    const input = ec2.commandCalls(RunInstancesCommand)[0]?.args[0].input;
    expect(input).toMatchObject({ ImageId: IMAGE_ID, InstanceType: 't3.micro', SubnetId: 'subnet-0123456789abcdef0' });
    expect(input?.ClientToken).toBe(instanceClientToken('test', BUILD_ID, 'eu-west-1', 'exec-1'));
    expect(input?.ClientToken).not.toBe(instanceClientToken('test', BUILD_ID, 'us-east-1', 'exec-1'));
    expect(input?.ClientToken).not.toBe(instanceClientToken('test', BUILD_ID, 'eu-west-1', 'exec-2'));
    expect(input?.ClientToken?.length).toBeLessThanOrEqual(64);
    expect(input?.ClientToken).not.toBe(instanceClientToken('builder', BUILD_ID));
    const tags = Object.fromEntries((input?.TagSpecifications?.[0]?.Tags ?? []).map((t) => [t.Key, t.Value]));
    expect(tags).toMatchObject({ 'ami-factory:managed': 'true', 'ami-factory:role': 'test', 'ami-factory:build-id': BUILD_ID });
    expect(Buffer.from(input?.UserData ?? '', 'base64').toString('utf8')).toContain('curl -fsS localhost');
  });
});

describe('rejectTestedImage', () => {
  beforeEach(() => ec2.reset());
  const managed = (buildId: string) => ({
    ImageId: IMAGE_ID,
    State: 'available' as const,
    Tags: [
      { Key: 'ami-factory:managed', Value: 'true' },
      { Key: 'ami-factory:build-id', Value: buildId },
    ],
  });

  it('disables this build’s managed image (disable policy), and leaves another build’s alone', async () => {
    ec2.on(DescribeImagesCommand).resolves({ Images: [managed(BUILD_ID)] });
    ec2.on(DisableImageCommand).resolves({ Return: true });
    expect((await rejectTestedImage(client(), buildRequest(), IMAGE_ID, 'disable')).disabled).toEqual([IMAGE_ID]);
    ec2.reset();
    ec2.on(DescribeImagesCommand).resolves({ Images: [managed('another-build-0001')] });
    expect((await rejectTestedImage(client(), buildRequest(), IMAGE_ID, 'disable')).skipped).toEqual([IMAGE_ID]);
    expect(ec2.commandCalls(DisableImageCommand)).toHaveLength(0);
  });

  it('deregisters with the build cleanup (deregister policy)', async () => {
    ec2.on(DescribeImagesCommand).resolves({ Images: [{ ...managed(BUILD_ID), BlockDeviceMappings: [] }] });
    ec2.on(DeregisterImageCommand).resolves({});
    expect((await rejectTestedImage(client(), buildRequest(), IMAGE_ID, 'deregister')).deregistered).toEqual([IMAGE_ID]);
    expect(ec2.commandCalls(DisableImageCommand)).toHaveLength(0);
  });
});

describe('testScript and the local cloud test plan', () => {
  it('stop: stops only on a pass; the local cloud runs it so', () => {
    const pass = testScript({ script: 'echo ok', report: 'stop' });
    expect(pass).toContain('echo ok');
    expect(testPlan(b64(pass))).toEqual({ shutdown: true, tags: {}, console: ['ok', 'ami-factory test: passed'] });
    const fail = testScript({ script: 'echo bad\nexit 1\necho never', report: 'stop' });
    expect(testPlan(b64(fail))).toEqual({ shutdown: false, tags: {}, console: ['bad', 'ami-factory test: failed'] });
  });

  it('tag: tags passed or failed; a script that never ends reports nothing', () => {
    expect(testPlan(b64(testScript({ script: 'true', report: 'tag' })))?.tags).toEqual({ 'ami-factory:test-status': 'passed' });
    expect(testPlan(b64(testScript({ script: 'false', report: 'tag' })))?.tags).toEqual({ 'ami-factory:test-status': 'failed' });
    expect(testPlan(b64(testScript({ script: 'true', report: 'tag' })), true)?.tags).toEqual({ 'ami-factory:test-status': 'failed' });
    expect(testPlan(b64(testScript({ script: 'sleep infinity', report: 'tag' })))).toEqual({ shutdown: false, tags: {}, console: [] });
    expect(testPlan(b64('#!/bin/bash\nshutdown -h now\n'))).toBeUndefined();
  });
});

describe('tests config schema', () => {
  it('has defaults and refuses what EC2 would', () => {
    expect(ImageTestsSchema.parse({ script: 'true' })).toEqual({
      instanceType: 't3.micro',
      script: 'true',
      timeoutSeconds: 1800,
      report: 'stop',
      onFailure: 'deregister',
      regions: {},
    });
    expect(ImageTestsSchema.safeParse({ script: '' }).success).toBe(false);
    expect(ImageTestsSchema.safeParse({ script: 'true', timeoutSeconds: 10 }).success).toBe(false);
    expect(ImageTestsSchema.safeParse({ script: 'true', onFailure: 'keep' }).success).toBe(false);
    expect(ImageTestsSchema.safeParse({ script: 'true', regions: { 'us-east-1': { subnetId: 'sub-1' } } }).success).toBe(false);
    expect(ImageTestsSchema.safeParse({ script: 'true', extra: 1 }).success).toBe(false);
  });
});
