import type { VirtualClock } from '../clock.js';
import type { JsonFileStore } from '../persist.js';
import {
  emptyRegion,
  imageArn,
  instanceArn,
  isoMs,
  LOCAL_ACCOUNT_ID,
  type Ec2State,
  type ImageRecord,
  type InstanceRecord,
  type InstanceStateName,
  type RegionState,
  type TimelineEntry,
} from './model.js';

/** An event as EC2 puts it on the default EventBridge bus of its region. */
export interface Ec2Event {
  source: 'aws.ec2';
  detailType: string;
  region: string;
  account: string;
  time: string;
  resources: string[];
  detail: Record<string, unknown>;
}

export interface WorldHooks {
  /** Why a pending image completing now must fail, or undefined for available (fault injection). */
  failureOf(region: string, image: ImageRecord): string | undefined;
  emit(e: Ec2Event): void;
  deregisteredVisibleMs: number;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The EC2 world over time. Everything that takes time is stored with its due time and applied
 * lazily by `advance()` (called before every request and by a timer), which also announces
 * the changes as events: `EC2 AMI State Change` (available, failed, deregistered, disabled)
 * and `EC2 Instance State-change Notification`.
 */
export class World {
  private timer: NodeJS.Timeout | undefined;
  private timerDueMs = Infinity;
  private closed = false;
  /**
   * Nothing in the world is due before this simulated instant (a lower bound; -Infinity:
   * unknown, look at everything). `advance()` is called before every request, and looking at
   * every instance, image and snapshot each time is what made a world of 10,000 images slow;
   * with the bound it looks only when something can be due. Whatever gives a record a due
   * time (a pending image or snapshot, a deregistered image, an instance's timeline or planned
   * tags) calls `schedule()` (or `announce`, `plan`, `reboot`), which lowers the bound.
   */
  private dueMs = -Infinity;
  /**
   * Changes whenever records may have been added behind the endpoint's back: every handler
   * that adds an image calls `schedule()` (a new image is pending), and `exposed()` covers
   * callers holding the state. Derived indexes (`snapshotUsers`) are rebuilt when it moves.
   */
  private generation = 0;
  private readonly snapshotIndex = new Map<string, { generation: number; users: Map<string, ImageRecord[]> }>();

  constructor(
    readonly store: JsonFileStore<Ec2State>,
    readonly clock: VirtualClock,
    private readonly hooks: WorldHooks,
  ) {}

  get state(): Ec2State {
    return this.store.data;
  }

  /** Someone outside the endpoint holds the state (tests, inspection) and may change it: look at everything next time. */
  exposed(): void {
    this.dueMs = -Infinity;
    this.generation++;
  }

  /**
   * The images of a region whose block device mappings name `snapshotId`, in the order of the
   * region's images, from an index (a deregistration asks once per snapshot; looking at every
   * image each time is slow with thousands of them). Records may have changed state since
   * they were indexed: callers check what they need on each.
   */
  snapshotUsers(regionName: string, snapshotId: string): ImageRecord[] {
    let index = this.snapshotIndex.get(regionName);
    if (index === undefined || index.generation !== this.generation) {
      const users = new Map<string, ImageRecord[]>();
      for (const image of Object.values(this.region(regionName).images)) {
        for (const b of image.blockDeviceMappings) {
          const id = b.ebs?.snapshotId;
          if (id === undefined) continue;
          const list = users.get(id) ?? [];
          if (!list.includes(image)) list.push(image);
          users.set(id, list);
        }
      }
      index = { generation: this.generation, users };
      this.snapshotIndex.set(regionName, index);
    }
    const rs = this.region(regionName);
    return (index.users.get(snapshotId) ?? []).filter(
      (i) => rs.images[i.imageId] === i && i.blockDeviceMappings.some((b) => b.ebs?.snapshotId === snapshotId),
    );
  }

  region(name: string): RegionState {
    let r = this.state.regions[name];
    if (r === undefined) {
      r = emptyRegion();
      this.state.regions[name] = r;
    }
    return r;
  }

  now(): number {
    return this.clock.nowMs();
  }

  // ---- instances -------------------------------------------------------------------------------

  /** The instance's state at `at` (the last timeline entry that has begun). */
  instanceEntry(inst: InstanceRecord, at = this.now()): TimelineEntry {
    let cur = inst.timeline[0] as TimelineEntry;
    for (const e of inst.timeline) {
      if (e.atMs <= at) cur = e;
      else break;
    }
    return cur;
  }

  instanceState(inst: InstanceRecord, at = this.now()): InstanceStateName {
    return this.instanceEntry(inst, at).state;
  }

  /** Replaces the instance's planned future with `steps`, each `afterMs` after the previous, starting now. */
  plan(inst: InstanceRecord, steps: { state: InstanceStateName; afterMs: number; reason?: string }[], from = this.now()): void {
    inst.timeline = inst.timeline.filter((e) => e.atMs <= from);
    if (inst.plannedTags !== undefined) inst.plannedTags = inst.plannedTags.filter((t) => t.atMs <= from);
    let at = from;
    for (const s of steps) {
      at += s.afterMs;
      const entry: TimelineEntry = { state: s.state, atMs: at };
      if (s.reason !== undefined) entry.reason = s.reason;
      inst.timeline.push(entry);
    }
    this.store.markDirty();
    this.schedule();
  }

  /**
   * Inserts a reboot (stopping → stopped → pending → running) starting now; planned entries
   * that fall inside it move after it, so a builder's later self-stop still happens.
   */
  reboot(inst: InstanceRecord, steps: { state: InstanceStateName; afterMs: number }[]): number {
    const now = this.now();
    const past = inst.timeline.filter((e) => e.atMs <= now);
    const future = inst.timeline.filter((e) => e.atMs > now);
    let at = now;
    const inserted: TimelineEntry[] = [];
    let stoppedAt = now;
    for (const s of steps) {
      at += s.afterMs;
      inserted.push({ state: s.state, atMs: at });
      if (s.state === 'stopped') stoppedAt = at;
    }
    const end = at;
    const shift = future.length > 0 && (future[0] as TimelineEntry).atMs <= end ? end - (future[0] as TimelineEntry).atMs + 1 : 0;
    inst.timeline = [...past, ...inserted, ...future.map((e) => ({ ...e, atMs: e.atMs + shift }))];
    if (inst.plannedTags !== undefined) inst.plannedTags = inst.plannedTags.map((t) => (t.atMs > now ? { ...t, atMs: t.atMs + shift } : t));
    this.store.markDirty();
    this.schedule();
    return stoppedAt;
  }

  // ---- time ------------------------------------------------------------------------------------

  /** Applies every change due by now, announces it, and arms the timer for the next one. */
  advance(): void {
    if (this.closed) return;
    const now = this.now();
    if (now < this.dueMs) {
      // Nothing is due yet; keep the timer armed for the first thing that will be.
      this.arm(this.dueMs);
      return;
    }
    const events: { atMs: number; event: Ec2Event }[] = [];
    let changed = false;
    for (const [regionName, rs] of Object.entries(this.state.regions)) {
      for (const inst of Object.values(rs.instances)) {
        while (inst.announced < inst.timeline.length && (inst.timeline[inst.announced] as TimelineEntry).atMs <= now) {
          const e = inst.timeline[inst.announced] as TimelineEntry;
          inst.announced++;
          changed = true;
          if (e.state === 'terminated') {
            for (const v of inst.volumes) if (v.deleteOnTermination) delete rs.volumes[v.volumeId];
          }
          events.push({
            atMs: e.atMs,
            event: {
              source: 'aws.ec2',
              detailType: 'EC2 Instance State-change Notification',
              region: regionName,
              account: LOCAL_ACCOUNT_ID,
              time: isoSeconds(e.atMs),
              resources: [instanceArn(regionName, LOCAL_ACCOUNT_ID, inst.instanceId)],
              detail: { 'instance-id': inst.instanceId, state: e.state },
            },
          });
        }
        if (inst.plannedTags !== undefined && inst.plannedTags.some((t) => t.atMs <= now)) {
          for (const t of inst.plannedTags.filter((p) => p.atMs <= now)) {
            if (this.instanceState(inst, t.atMs) !== 'terminated') Object.assign(inst.tags, t.tags);
          }
          inst.plannedTags = inst.plannedTags.filter((t) => t.atMs > now);
          changed = true;
        }
      }
      for (const image of Object.values(rs.images)) {
        if (image.state === 'pending' && image.availableAtMs !== undefined && image.availableAtMs <= now) {
          const at = image.availableAtMs;
          const failure = this.hooks.failureOf(regionName, image);
          delete image.availableAtMs;
          if (failure === undefined) {
            image.state = 'available';
          } else {
            image.state = 'failed';
            image.stateReason = { code: 'Server.InternalError', message: failure };
          }
          for (const b of image.blockDeviceMappings) {
            const snap = b.ebs?.snapshotId !== undefined ? rs.snapshots[b.ebs.snapshotId] : undefined;
            if (snap === undefined || snap.state !== 'pending' || snap.completeAtMs !== at) continue;
            delete snap.completeAtMs;
            if (failure === undefined) {
              snap.state = 'completed';
            } else {
              snap.state = 'error';
              snap.stateMessage = failure;
            }
          }
          changed = true;
          events.push({ atMs: at, event: this.imageEvent(regionName, image, image.state, failure) });
        }
        if (image.state === 'deregistered' && (image.deregisteredMs ?? 0) + this.hooks.deregisteredVisibleMs <= now) {
          delete rs.images[image.imageId];
          changed = true;
        }
      }
      for (const snap of Object.values(rs.snapshots)) {
        if (snap.state === 'pending' && snap.completeAtMs !== undefined && snap.completeAtMs <= now) {
          delete snap.completeAtMs;
          snap.state = 'completed';
          changed = true;
        }
      }
    }
    if (changed) this.store.markDirty();
    events.sort((a, b) => a.atMs - b.atMs);
    for (const e of events) this.hooks.emit(e.event);
    this.schedule();
  }

  /** Announces an immediate image state change (deregistered, disabled, re-enabled). */
  announce(region: string, image: ImageRecord, state: string): void {
    this.hooks.emit(this.imageEvent(region, image, state));
    // Only a deregistration gives the image a due time (when it leaves the listings); the
    // other changes announced here add none, so there is no need to look at the whole world.
    if (state === 'deregistered' && image.state === 'deregistered')
      this.due((image.deregisteredMs ?? 0) + this.hooks.deregisteredVisibleMs);
    else this.arm(this.dueMs);
  }

  imageEvent(region: string, image: ImageRecord, state: string, errorMessage?: string, atMs = this.now()): Ec2Event {
    return {
      source: 'aws.ec2',
      detailType: 'EC2 AMI State Change',
      region,
      account: LOCAL_ACCOUNT_ID,
      time: isoSeconds(atMs),
      resources: [imageArn(region, image.imageId)],
      detail: { RequestId: image.requestId, ImageId: image.imageId, State: state, ErrorMessage: errorMessage ?? '' },
    };
  }

  /** The earliest simulated time something is due, or Infinity. */
  private nextDueMs(): number {
    let due = Infinity;
    for (const rs of Object.values(this.state.regions)) {
      for (const inst of Object.values(rs.instances)) {
        const next = inst.timeline[inst.announced];
        if (next !== undefined) due = Math.min(due, next.atMs);
        for (const t of inst.plannedTags ?? []) due = Math.min(due, t.atMs);
      }
      for (const image of Object.values(rs.images)) {
        if (image.state === 'pending' && image.availableAtMs !== undefined) due = Math.min(due, image.availableAtMs);
        if (image.state === 'deregistered') due = Math.min(due, (image.deregisteredMs ?? 0) + this.hooks.deregisteredVisibleMs);
      }
      for (const snap of Object.values(rs.snapshots)) {
        if (snap.state === 'pending' && snap.completeAtMs !== undefined) due = Math.min(due, snap.completeAtMs);
      }
    }
    return due;
  }

  /** Something may have gained a due time: finds the next due change and arms the timer for it. */
  schedule(): void {
    this.generation++;
    if (this.closed) return;
    this.dueMs = this.nextDueMs();
    this.arm(this.dueMs);
  }

  /** One record gained a due time at `atMs` and nothing else changed: the bound and the timer move only if it is earlier. */
  private due(atMs: number): void {
    if (this.closed) return;
    this.dueMs = Math.min(this.dueMs, atMs);
    this.arm(Math.min(this.timerDueMs, atMs));
  }

  /** Arms one unref'd timer for `due` (real ms = clock.toRealMs). */
  private arm(due: number): void {
    if (this.closed) return;
    if (due === -Infinity) {
      this.schedule();
      return;
    }
    if (due === this.timerDueMs && this.timer !== undefined) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerDueMs = due;
    if (due === Infinity) return;
    const delay = Math.min(MAX_TIMER_MS, Math.ceil(this.clock.toRealMs(due - this.now())) + 1);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerDueMs = Infinity;
      this.advance();
    }, delay);
    this.timer.unref();
  }

  close(): void {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/** EventBridge event times are ISO-8601 to the second. */
export function isoSeconds(ms: number): string {
  return isoMs(ms).replace(/\.\d{3}Z$/, 'Z');
}
