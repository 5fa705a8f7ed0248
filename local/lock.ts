import { closeSync, existsSync, fsyncSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { writeJsonAtomic } from './persist.js';

/**
 * One cloud per state folder. The cloud that owns a state folder holds `<stateDir>/cloud.lock`
 * (created exclusively: two processes can never both believe they own it), which names its
 * process id and, once it listens, its endpoint. Every other command reads the lock to join
 * that cloud; a lock whose process is gone is stale and is taken over (the state written
 * atomically before the crash is read back). No two clouds ever write one folder.
 */
export interface LockInfo {
  pid: number;
  /** Set once the cloud listens. */
  endpoint?: string;
  port?: number;
  startedAt: string;
  /** The host name, so a lock on a shared disk from another machine is not mistaken for ours. */
  host?: string;
}

/** The folder is owned by a live cloud (the message says which). */
export class StateDirLockedError extends Error {
  override name = 'StateDirLockedError';
  constructor(
    readonly stateDir: string,
    readonly holder: LockInfo,
  ) {
    super(
      `The state folder ${stateDir} belongs to the local cloud of process ${holder.pid}` +
        (holder.endpoint !== undefined ? ` at ${holder.endpoint}` : ' (still starting)') +
        ` since ${holder.startedAt}; join it (--endpoint ${holder.endpoint ?? '<its endpoint>'}) or stop it first`,
    );
  }
}

/** The lock file cannot be read as a lock (left alone; the message says how to proceed). */
export class LockFileError extends Error {
  override name = 'LockFileError';
}

export function lockPath(stateDir: string): string {
  return join(stateDir, 'cloud.lock');
}

export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The lock of a state folder as it is now: undefined when there is none or its process is gone
 * (`stale` says which). A lock being written this instant (empty) reads as held by nobody yet:
 * callers retry.
 */
export function readLock(stateDir: string): { info?: LockInfo; stale: boolean; empty: boolean } {
  const path = lockPath(stateDir);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return { stale: false, empty: false };
  }
  if (text.trim() === '') {
    // The owner creates the file, then writes it: an empty lock younger than a few seconds is being written.
    const age = Date.now() - statSync(path).mtimeMs;
    return { stale: age > 5000, empty: age <= 5000 };
  }
  let info: LockInfo;
  try {
    info = JSON.parse(text) as LockInfo;
  } catch (e) {
    throw new LockFileError(
      `${path} is not a lock this cloud wrote (${(e as Error).message}); delete it if no local cloud uses ${stateDir}`,
    );
  }
  if (typeof info.pid !== 'number') throw new LockFileError(`${path} names no process; delete it if no local cloud uses ${stateDir}`);
  const foreignHost = info.host !== undefined && info.host !== hostName();
  if (!foreignHost && !processAlive(info.pid)) return { info, stale: true, empty: false };
  return { info, stale: false, empty: false };
}

function hostName(): string {
  return process.env.HOSTNAME ?? '';
}

export interface HeldLock {
  /** Records where the cloud listens (after the server is up). */
  listening(endpoint: string, port: number): void;
  release(): void;
  /** Set when a stale lock of a dead process was taken over. */
  tookOver?: LockInfo;
}

/** Takes the state folder's lock for this process, or StateDirLockedError naming the live holder. */
export function acquireLock(stateDir: string): HeldLock {
  const path = lockPath(stateDir);
  let tookOver: LockInfo | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    const info: LockInfo = { pid: process.pid, startedAt: new Date().toISOString(), host: hostName() };
    let fd: number;
    try {
      fd = openSync(path, 'wx');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const current = readLock(stateDir);
      if (current.stale) {
        tookOver = current.info;
        rmSync(path, { force: true });
        continue;
      }
      throw new StateDirLockedError(stateDir, current.info ?? { pid: 0, startedAt: '(being written)' });
    }
    try {
      writeSync(fd, JSON.stringify(info));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    let released = false;
    const onExit = (): void => {
      if (!released && existsSync(path) && readLock(stateDir).info?.pid === process.pid) rmSync(path, { force: true });
    };
    process.once('exit', onExit);
    const held: HeldLock = {
      listening: (endpoint, port) => writeJsonAtomic(path, { ...info, endpoint, port } satisfies LockInfo),
      release: () => {
        if (released) return;
        released = true;
        process.off('exit', onExit);
        if (readLock(stateDir).info?.pid === process.pid) rmSync(path, { force: true });
      },
    };
    if (tookOver !== undefined) held.tookOver = tookOver;
    return held;
  }
  throw new LockFileError(`Could not take ${path}: it keeps changing; another process is starting a cloud on ${stateDir}`);
}
