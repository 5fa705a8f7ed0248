import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { isJsonObject, type JsonObject } from '../json.js';

/**
 * A state machine's execution log, as Step Functions delivers it to CloudWatch Logs
 * (`LoggingConfiguration`, Step Functions user guide "Log levels" and "CloudWatch Logs payloads"):
 * one JSON line per history event of the level's categories, written to the log group's file
 * under the cloud's logs directory (`<stateDir>/logs/<log group name, '/' → '.'>.log`).
 *
 * - ALL logs every event; ERROR the events that report a failure (…Failed, …TimedOut,
 *   …Aborted); FATAL only ExecutionFailed, ExecutionTimedOut and ExecutionAborted; OFF nothing.
 * - Without IncludeExecutionData the events carry no input or output (nor their details).
 * - The line is Step Functions' payload: id, type, details, previous_event_id,
 *   event_timestamp (epoch ms as a string), execution_arn, redrive_count.
 */
export type LogLevel = 'ALL' | 'ERROR' | 'FATAL' | 'OFF';

export interface ExecutionLogConfig {
  level: LogLevel;
  includeExecutionData: boolean;
  logGroupName: string;
}

/** A LoggingConfiguration that names none of Step Functions' levels, or no destination when it logs. */
export class InvalidLoggingConfigurationError extends Error {
  override name = 'InvalidLoggingConfigurationError';
}

const FATAL = new Set(['ExecutionFailed', 'ExecutionTimedOut', 'ExecutionAborted']);
const ERROR = /(Failed|TimedOut|Aborted)$/;
const DATA_KEYS = new Set(['input', 'output', 'inputDetails', 'outputDetails']);
const LOG_GROUP_ARN = /^arn:aws[a-z-]*:logs:[a-z0-9-]+:\d{12}:log-group:([^:]+)(:\*)?$/;

/** The logging a template's `LoggingConfiguration` asks for; undefined when it logs nothing. */
export function executionLogConfig(c: JsonObject | undefined): ExecutionLogConfig | undefined {
  if (c === undefined) return undefined;
  const level = c.Level ?? 'OFF';
  if (level !== 'ALL' && level !== 'ERROR' && level !== 'FATAL' && level !== 'OFF')
    throw new InvalidLoggingConfigurationError(`Level ${String(level)} is not ALL, ERROR, FATAL or OFF`);
  if (level === 'OFF') return undefined;
  const destinations = Array.isArray(c.Destinations) ? c.Destinations : [];
  const first = destinations[0];
  const group = first !== undefined && isJsonObject(first) ? first.CloudWatchLogsLogGroup : undefined;
  const arn = group !== undefined && isJsonObject(group) ? group.LogGroupArn : undefined;
  const name = typeof arn === 'string' ? LOG_GROUP_ARN.exec(arn)?.[1] : undefined;
  if (destinations.length !== 1 || name === undefined)
    throw new InvalidLoggingConfigurationError(`Level ${level} needs exactly one CloudWatch Logs log group destination (a log group ARN)`);
  return { level, includeExecutionData: c.IncludeExecutionData === true || c.IncludeExecutionData === 'true', logGroupName: name };
}

export function logs(level: LogLevel, type: string): boolean {
  if (level === 'ALL') return true;
  if (level === 'FATAL') return FATAL.has(type);
  if (level === 'ERROR') return ERROR.test(type);
  return false;
}

/** The file of a log group under the logs directory. */
export function logGroupFile(logsDir: string, logGroupName: string): string {
  return join(logsDir, `${logGroupName.replace(/^\/+/, '').replace(/\//g, '.')}.log`);
}

export interface LoggedEvent {
  id: number;
  previousEventId: number;
  timestampMs: number;
  type: string;
  details: JsonObject;
  executionArn: string;
}

/** The CloudWatch Logs line of a history event. */
export function logLine(config: ExecutionLogConfig, e: LoggedEvent): string {
  const details: JsonObject = {};
  for (const [k, v] of Object.entries(e.details)) if (config.includeExecutionData || !DATA_KEYS.has(k)) details[k] = v;
  return JSON.stringify({
    id: String(e.id),
    type: e.type,
    details,
    previous_event_id: String(e.previousEventId),
    event_timestamp: String(e.timestampMs),
    execution_arn: e.executionArn,
    redrive_count: '0',
  });
}

/** Appends the event to the log group's file when the level logs it. */
export function writeExecutionLog(logsDir: string, config: ExecutionLogConfig, e: LoggedEvent): void {
  if (!logs(config.level, e.type)) return;
  mkdirSync(logsDir, { recursive: true });
  appendFileSync(logGroupFile(logsDir, config.logGroupName), `${logLine(config, e)}\n`);
}
