// Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it, so two
// replicas never both act:
// - Candidates try to acquire every retryPeriod (jittered x1.2). A lease held by someone else is
//   respected until leaseDurationSeconds (from the lease) after this candidate last saw it change,
//   measured on the local clock (no clock-skew assumptions between replicas).
// - The leader renews every retryPeriod; if it cannot renew within renewDeadline of its last
//   successful renewal it stops leading (onStoppedLeading, the leading signal aborts) before the
//   lease can expire for the others (renewDeadline < leaseDuration).
// - release() on shutdown empties holderIdentity with leaseDurationSeconds 1 so a standby takes
//   over at its next retry (about 2 s) instead of waiting 15 s.
// Writes use optimistic concurrency (resourceVersion): of two racing candidates one gets 409.
// Leases are read and written through CustomObjectsApi as plain JSON so renewTime/acquireTime are
// sent in MicroTime format (RFC 3339 with microseconds).
import { hostname } from "node:os";
import { CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { errorMessage, noopLogger, sleepOn, systemTimers, type Logger, type Timers } from "./runtime.ts";

export const LEASE_GROUP = "coordination.k8s.io";
export const LEASE_VERSION = "v1";
export const LEASE_PLURAL = "leases";

export type LeaseSpec = {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
};

type Lease = { metadata?: { resourceVersion?: string }; spec?: LeaseSpec };

export type LeaderElectorOptions = {
  kubeConfig: KubeConfig;
  namespace: string;
  name: string;
  /** Default: defaultIdentity(). */
  identity?: string;
  leaseDurationSeconds?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  /** Called when this replica becomes leader; `signal` aborts when it stops leading. */
  onStartedLeading: (signal: AbortSignal) => void | Promise<void>;
  onStoppedLeading: () => void | Promise<void>;
  /** Called whenever the observed holder changes (including to this replica). */
  onNewLeader?: (identity: string) => void;
  logger?: Logger;
  timers?: Timers;
  random?: () => number;
  /**
   * Release the lease in stop() (default true). False behaves like client-go without
   * ReleaseOnCancel: the standby waits for the lease to expire.
   */
  releaseOnStop?: boolean;
  /** Per API call. Default: renewDeadlineMs / 2. */
  requestTimeoutMs?: number;
};

/** POD_NAME when running in a pod, else hostname_pid: unique per process. */
export function defaultIdentity(env: NodeJS.ProcessEnv = process.env): string {
  return env.POD_NAME && env.POD_NAME.length > 0 ? env.POD_NAME : `${hostname()}_${process.pid}`;
}

/** RFC 3339 with microseconds, as metav1.MicroTime marshals. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

class TimeoutError extends Error {
  constructor(ms: number) {
    super(`request timed out after ${ms} ms`);
    this.name = "TimeoutError";
  }
}

export class LeaderElector {
  readonly identity: string;
  private readonly opts: LeaderElectorOptions;
  private readonly api: CustomObjectsApi;
  private readonly logger: Logger;
  private readonly timers: Timers;
  private readonly random: () => number;
  private readonly leaseDurationSeconds: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly stopController = new AbortController();
  private leading: AbortController | undefined;
  private observed: { spec: LeaseSpec; resourceVersion: string | undefined; at: number } | undefined;
  private lastRenew = 0;
  private loop: Promise<void> | undefined;
  private currentLeader: string | undefined;

  constructor(opts: LeaderElectorOptions) {
    this.opts = opts;
    this.identity = opts.identity ?? defaultIdentity();
    this.api = opts.kubeConfig.makeApiClient(CustomObjectsApi);
    this.logger = opts.logger ?? noopLogger;
    this.timers = opts.timers ?? systemTimers;
    this.random = opts.random ?? Math.random;
    this.leaseDurationSeconds = opts.leaseDurationSeconds ?? 15;
    this.renewDeadlineMs = opts.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = opts.retryPeriodMs ?? 2_000;
    if (!(this.leaseDurationSeconds * 1000 > this.renewDeadlineMs))
      throw new RangeError("leaseDuration must be greater than renewDeadline");
    if (!(this.renewDeadlineMs > this.retryPeriodMs * 1.2)) throw new RangeError("renewDeadline must be greater than retryPeriod x 1.2");
  }

  isLeader(): boolean {
    return this.leading !== undefined;
  }

  /** The holder last observed (undefined before the first read or when nobody holds it). */
  leader(): string | undefined {
    return this.currentLeader;
  }

  /** Starts campaigning; runs until stop(). */
  start(): void {
    if (this.loop !== undefined) return;
    this.loop = this.run();
  }

  /** Stops campaigning and, if leading, stops leading and releases the lease. */
  async stop(): Promise<void> {
    this.stopController.abort(new Error("leader elector stopped"));
    await this.loop?.catch(() => undefined);
    if (this.leading) {
      this.stopLeading();
      if (this.opts.releaseOnStop !== false) await this.release();
    }
  }

  private get stopped(): boolean {
    return this.stopController.signal.aborted;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      // Acquire.
      while (!this.stopped) {
        if (await this.tryAcquireOrRenew()) break;
        await this.sleep(this.retryPeriodMs * (1 + 0.2 * this.random()));
      }
      if (this.stopped) return;
      this.lastRenew = this.timers.now();
      this.leading = new AbortController();
      this.logger.info("leader election: started leading", { lease: this.opts.name, identity: this.identity });
      this.call("onStartedLeading", () => this.opts.onStartedLeading((this.leading as AbortController).signal));
      // Renew.
      while (!this.stopped) {
        await this.sleep(this.retryPeriodMs);
        if (this.stopped) return;
        let renewed = false;
        while (!this.stopped && this.timers.now() - this.lastRenew < this.renewDeadlineMs) {
          if (await this.tryAcquireOrRenew()) {
            renewed = true;
            this.lastRenew = this.timers.now();
            break;
          }
          if (this.currentLeader !== undefined && this.currentLeader !== this.identity) break; // taken over
          await this.sleep(this.retryPeriodMs);
        }
        if (this.stopped) return;
        if (!renewed) {
          this.logger.warn("leader election: lost the lease (renew deadline passed)", { lease: this.opts.name, identity: this.identity });
          this.stopLeading();
          break;
        }
      }
    }
  }

  private stopLeading(): void {
    const leading = this.leading;
    if (!leading) return;
    this.leading = undefined;
    leading.abort(new Error("stopped leading"));
    this.call("onStoppedLeading", () => this.opts.onStoppedLeading());
  }

  private call(what: string, fn: () => void | Promise<void>): void {
    try {
      const r = fn();
      if (r && typeof (r as Promise<void>).then === "function") {
        (r as Promise<void>).then(undefined, (err: unknown) =>
          this.logger.error(`leader election: ${what} failed`, { error: errorMessage(err) }),
        );
      }
    } catch (err) {
      this.logger.error(`leader election: ${what} failed`, { error: errorMessage(err) });
    }
  }

  private async sleep(ms: number): Promise<void> {
    await sleepOn(this.timers, ms, this.stopController.signal).catch(() => undefined);
  }

  private withTimeout<T>(p: Promise<T>): Promise<T> {
    const ms = this.opts.requestTimeoutMs ?? Math.floor(this.renewDeadlineMs / 2);
    return new Promise<T>((resolve, reject) => {
      const t = this.timers.setTimeout(() => reject(new TimeoutError(ms)), ms);
      p.then(
        (v) => {
          this.timers.clearTimeout(t);
          resolve(v);
        },
        (err: unknown) => {
          this.timers.clearTimeout(t);
          reject(err);
        },
      );
    });
  }

  private coords() {
    return { group: LEASE_GROUP, version: LEASE_VERSION, plural: LEASE_PLURAL, namespace: this.opts.namespace };
  }

  private observe(spec: LeaseSpec, resourceVersion: string | undefined): void {
    const now = this.timers.now();
    const prev = this.observed;
    if (!prev || JSON.stringify(prev.spec) !== JSON.stringify(spec)) {
      this.observed = { spec, resourceVersion, at: now };
    } else {
      this.observed = { spec, resourceVersion, at: prev.at };
    }
    const holder = spec.holderIdentity || undefined;
    if (holder !== this.currentLeader) {
      this.currentLeader = holder;
      if (holder !== undefined) {
        const h = holder;
        this.call("onNewLeader", () => this.opts.onNewLeader?.(h));
      }
    }
  }

  /** One attempt; true when this replica holds the lease afterwards. */
  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = this.timers.now();
    const fresh: LeaseSpec = {
      holderIdentity: this.identity,
      leaseDurationSeconds: this.leaseDurationSeconds,
      acquireTime: microTime(now),
      renewTime: microTime(now),
      leaseTransitions: 0,
    };
    let lease: Lease;
    try {
      lease = (await this.withTimeout(this.api.getNamespacedCustomObject({ ...this.coords(), name: this.opts.name }))) as Lease;
    } catch (err) {
      if ((err as { code?: unknown }).code !== 404) {
        this.logger.warn("leader election: cannot read lease", { lease: this.opts.name, error: errorMessage(err) });
        return false;
      }
      try {
        const created = (await this.withTimeout(
          this.api.createNamespacedCustomObject({
            ...this.coords(),
            body: {
              apiVersion: `${LEASE_GROUP}/${LEASE_VERSION}`,
              kind: "Lease",
              metadata: { name: this.opts.name, namespace: this.opts.namespace },
              spec: fresh,
            },
          }),
        )) as Lease;
        this.observe(fresh, created.metadata?.resourceVersion);
        return true;
      } catch (createErr) {
        this.logger.debug("leader election: cannot create lease", { lease: this.opts.name, error: errorMessage(createErr) });
        return false;
      }
    }
    const spec = lease.spec ?? {};
    this.observe(spec, lease.metadata?.resourceVersion);
    const holder = spec.holderIdentity ?? "";
    const observedAt = this.observed?.at ?? now;
    const duration = (spec.leaseDurationSeconds ?? this.leaseDurationSeconds) * 1000;
    if (holder !== "" && holder !== this.identity && observedAt + duration > now) return false;
    const mine = holder === this.identity;
    const next: LeaseSpec = {
      holderIdentity: this.identity,
      leaseDurationSeconds: this.leaseDurationSeconds,
      acquireTime: mine && spec.acquireTime ? spec.acquireTime : microTime(now),
      renewTime: microTime(now),
      leaseTransitions: mine ? (spec.leaseTransitions ?? 0) : (spec.leaseTransitions ?? 0) + 1,
    };
    try {
      const updated = (await this.withTimeout(
        this.api.replaceNamespacedCustomObject({
          ...this.coords(),
          name: this.opts.name,
          body: { ...lease, spec: next },
        }),
      )) as Lease;
      this.observe(next, updated.metadata?.resourceVersion);
      return true;
    } catch (err) {
      this.logger.debug("leader election: cannot update lease", { lease: this.opts.name, error: errorMessage(err) });
      return false;
    }
  }

  /** Empties the holder so a standby acquires at once. Best effort, never throws. */
  private async release(): Promise<void> {
    try {
      const lease = (await this.withTimeout(this.api.getNamespacedCustomObject({ ...this.coords(), name: this.opts.name }))) as Lease;
      if (lease.spec?.holderIdentity !== this.identity) return;
      const now = this.timers.now();
      await this.withTimeout(
        this.api.replaceNamespacedCustomObject({
          ...this.coords(),
          name: this.opts.name,
          body: {
            ...lease,
            spec: {
              holderIdentity: "",
              leaseDurationSeconds: 1,
              acquireTime: microTime(now),
              renewTime: microTime(now),
              leaseTransitions: lease.spec.leaseTransitions ?? 0,
            },
          },
        }),
      );
      this.logger.info("leader election: released the lease", { lease: this.opts.name, identity: this.identity });
    } catch (err) {
      this.logger.warn("leader election: release failed", { lease: this.opts.name, error: errorMessage(err) });
    }
  }
}
