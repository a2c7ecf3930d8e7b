// Who acts. With --leader-elect the Lease decides: this replica leads from the moment it holds the
// lease, and on losing it stops at once (another replica may act now: never act twice). Without it,
// this replica leads from the start. While leading, the wake routes are refreshed every minute.
import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "../report/log.ts";
import type { ReclaimerMetrics } from "../report/metrics.ts";
import { reportUnexpected } from "../report/unexpected.ts";
import { LeaderElector } from "../sources/kube/lease.ts";
import type { KServeIngressSettings, WakeRouteBook } from "./wake.ts";

/** How often KServe's ingress settings are read and the wake routes listed (a deleted route comes back within this). */
const WAKE_REFRESH_MS = 60_000;

export type LeadershipOptions = {
  /** The Lease to hold; undefined: lead without election. */
  lease: { kubeConfig: KubeConfig; namespace: string; name: string } | undefined;
  identity: string;
  log: Logger;
  metrics: ReclaimerMetrics;
  kserveIngress: KServeIngressSettings;
  wakeRoutes: WakeRouteBook;
  /** Called once the hosts are known: start reconciling. */
  startReconciling(): void;
  /** A wake route changed: the service's decision is due again. */
  poke(key: string): void;
  /** The lease was lost while leading. */
  lost(): void;
};

export class Leadership {
  readonly #o: LeadershipOptions;
  #leading = false;
  #elector: LeaderElector | undefined;
  #wakeTimer: NodeJS.Timeout | undefined;
  #lastWakeProblem = "";

  constructor(o: LeadershipOptions) {
    this.#o = o;
  }

  get leading(): boolean {
    return this.#leading;
  }

  start(): void {
    const { lease, identity, log } = this.#o;
    if (lease === undefined) {
      this.#lead();
      return;
    }
    this.#elector = new LeaderElector({
      ...lease,
      identity,
      logger: log,
      onStartedLeading: () => this.#lead(),
      onStoppedLeading: () => {
        if (!this.#leading) return;
        log.warn("lost leadership; stopping", { identity });
        this.#o.lost();
      },
      onNewLeader: (leader) => log.info("leader", { leader }),
    });
    this.#elector.start();
  }

  /** Stops acting now (the caller stops the reconciler); the lease is released by release(). */
  resign(): void {
    this.#leading = false;
    clearInterval(this.#wakeTimer);
  }

  async release(): Promise<void> {
    await this.#elector?.stop();
    this.#o.metrics.setLeader(false);
  }

  #lead(): void {
    const { log, metrics, kserveIngress, identity } = this.#o;
    this.#leading = true;
    metrics.setLeader(true);
    // hosts come from KServe's settings: read them before any wake route is written (refresh never rejects)
    const refreshed = kserveIngress.refresh().then(() => {
      if (!this.#leading) return;
      this.#o.startReconciling();
      log.info("leading: reconciling", { identity });
      const tick = () => {
        this.#refreshWake().catch((err: unknown) => reportUnexpected(log, (k) => metrics.error(k), "unhandledRejection", err));
      };
      tick();
      this.#wakeTimer = setInterval(tick, WAKE_REFRESH_MS);
      this.#wakeTimer.unref();
    });
    refreshed.catch((err: unknown) => reportUnexpected(log, (k) => metrics.error(k), "unhandledRejection", err));
  }

  async #refreshWake(): Promise<void> {
    const { kserveIngress, wakeRoutes, metrics, log } = this.#o;
    await kserveIngress.refresh();
    try {
      const changed = await wakeRoutes.refresh();
      metrics.setWakeRoutes(wakeRoutes.count);
      for (const k of changed) this.#o.poke(k);
      this.#lastWakeProblem = "";
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      metrics.error("wake");
      if (message !== this.#lastWakeProblem) log.warn("could not list the wake routes; retrying every minute", { err: message });
      this.#lastWakeProblem = message;
    }
  }
}
