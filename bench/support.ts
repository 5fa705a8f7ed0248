/**
 * What the workflow benchmarks share: a factory config of their own, a build through the real
 * image-factory state machine of a local cloud, its whole execution history, and the bill's
 * units (state transitions, Lambda requests and GB-seconds) counted from what the cloud saw.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import type { SFNClient } from '@aws-sdk/client-sfn';
import {
  DescribeExecutionCommand,
  StartExecutionCommand,
  type DescribeExecutionCommandOutput,
  type HistoryEvent,
} from '@aws-sdk/client-sfn';
import { buildRequestFor, parseFactoryConfig } from '../functions/lib/config.js';
import type { BuildRequest } from '../functions/lib/build-request.js';
import type { InvocationRecord } from '../local/lambda/runtime.js';
import type { LocalCloud } from '../local/server.js';

export const CREDENTIALS = { accessKeyId: 'AKIDBENCH', secretAccessKey: 'bench' };

/** A benchmark's setup or run did not go as the benchmark needs (a failed build, a timeout). */
export class BenchRunError extends Error {
  override name = 'BenchRunError';
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

export const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

/**
 * factory.config.yml with the `web` family (the demo's golden instance in us-east-1) changed by
 * `edit`, written to a scratch file for `startLocalCloud({ configFile })`.
 */
export function benchConfigFile(projectRoot: string, edit: (web: Record<string, unknown>) => void): string {
  const doc = parse(readFileSync(join(projectRoot, 'factory.config.yml'), 'utf8')) as { families: Record<string, Record<string, unknown>> };
  const web = doc.families.web;
  if (web === undefined) throw new BenchRunError('factory.config.yml has no web family');
  edit(web);
  const text = stringify(doc);
  parseFactoryConfig(text, 'bench config');
  const file = join(mkdtempSync(join(tmpdir(), 'ami-factory-bench-')), 'factory.config.yml');
  writeFileSync(file, text);
  return file;
}

export function webBuildRequest(configFile: string, cloud: LocalCloud, buildId: string): BuildRequest {
  const config = parseFactoryConfig(readFileSync(configFile, 'utf8'), configFile);
  return buildRequestFor(config, 'web', {
    buildId,
    requestedAt: cloud.clock.now().toISOString(),
    trigger: { type: 'test' },
    noReboot: true,
  });
}

export async function startBuild(sfn: SFNClient, cloud: LocalCloud, request: BuildRequest): Promise<string> {
  const { executionArn } = await sfn.send(
    new StartExecutionCommand({
      stateMachineArn: cloud.stateMachineArn('image-factory'),
      name: `bench-${request.buildId}`,
      input: JSON.stringify(request),
    }),
  );
  if (executionArn === undefined) throw new BenchRunError('StartExecution returned no executionArn');
  return executionArn;
}

export async function waitForExecution(sfn: SFNClient, executionArn: string, timeoutMs: number): Promise<DescribeExecutionCommandOutput> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const d = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    if (d.status !== 'RUNNING') {
      if (d.status !== 'SUCCEEDED') throw new BenchRunError(`execution ${executionArn} ${d.status}: ${d.error ?? ''} ${d.cause ?? ''}`);
      return d;
    }
    if (Date.now() > deadline) throw new BenchRunError(`execution ${executionArn} still RUNNING after ${timeoutMs / 1000} s real`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Billed state transitions of an execution (Standard workflows): one per state entered, and
 * one per retry of a task (AWS: "each retry will be charged as an additional state transition"),
 * i.e. the task schedulings beyond one per Task state entered.
 */
export function billedTransitions(events: readonly HistoryEvent[]): { entered: number; retries: number; total: number } {
  const entered = events.filter((e) => e.type?.endsWith('StateEntered') === true).length;
  const tasksEntered = events.filter((e) => e.type === 'TaskStateEntered').length;
  const scheduled = events.filter((e) => e.type === 'TaskScheduled' || e.type === 'LambdaFunctionScheduled').length;
  const retries = Math.max(0, scheduled - tasksEntered);
  return { entered, retries, total: entered + retries };
}

export interface LambdaBill {
  invocations: number;
  /** Σ billed ms (each invocation's duration rounded up to 1 ms) × configured memory, in GB-seconds. */
  gbSeconds: number;
  byFunction: Record<string, number>;
}

export function lambdaBill(records: readonly InvocationRecord[], include: (fn: string) => boolean = () => true): LambdaBill {
  const mine = records.filter((r) => include(r.function));
  const byFunction: Record<string, number> = {};
  for (const r of mine) byFunction[r.function] = (byFunction[r.function] ?? 0) + 1;
  return {
    invocations: mine.length,
    gbSeconds: sum(mine.map((r) => (Math.max(1, Math.ceil(r.durationMs)) / 1000) * (r.memoryMb / 1024))),
    byFunction,
  };
}
