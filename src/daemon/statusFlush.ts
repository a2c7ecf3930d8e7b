// Schedule status, written in batches: a decision marks its schedule, and one write per marked
// schedule follows once nothing was marked for `debounceMs` (the boundary's burst is over; at most
// `maxDelayMs` after the first mark), so a boundary that decides 1,000 services writes each status
// once, however long the burst. A status identical to the one in the cluster (GPU-hours apart) is
// not written at all.
import { canonicalJson, capStatus } from "../act/scheduleStatus.ts";
import { buildStatus, type ServiceReport } from "../decide/status.ts";
import { nextTransition } from "../schedule/index.ts";
import { CLUSTER_SCOPE, scheduleStatusOf } from "../sources/kube/servingSchedule.ts";
import type { Cancel } from "./clock.ts";
import type { GpuLedger } from "./ledger.ts";
import { parseServiceKey } from "../sources/kube/service.ts";
import { type ReconcilerPorts, type ServiceRecord, splitKey } from "./ports.ts";
import type { ScheduleBook } from "./schedules.ts";

type Deps = {
  ports: Pick<ReconcilerPorts, "clock" | "writeStatus">;
  debounceMs: number;
  /** A burst that never pauses still gets its status written this long after its first mark. Default 10 s. */
  maxDelayMs?: number;
  book: ScheduleBook;
  ledger: GpuLedger;
  services: () => Iterable<[string, ServiceRecord]>;
  failed: (what: string, err: unknown) => void;
};

export class StatusFlush {
  readonly #d: Deps;
  readonly #dirty = new Set<string>();
  #timer: Cancel | undefined;
  #firstMark = 0;
  #lastMark = 0;
  #stopped = false;

  constructor(deps: Deps) {
    this.#d = deps;
  }

  mark(schedule: string): void {
    this.#dirty.add(schedule);
    const now = this.#d.ports.clock.now();
    this.#lastMark = now;
    if (this.#timer || this.#stopped) return;
    this.#firstMark = now;
    this.#arm(now + this.#d.debounceMs);
  }

  /** One timer for all marks: when it fires it waits again while marks keep coming (no timer per mark). */
  #arm(at: number): void {
    const { clock } = this.#d.ports;
    const latest = this.#firstMark + (this.#d.maxDelayMs ?? 10_000);
    this.#timer = clock.at(Math.min(at, latest), () => {
      this.#timer = undefined;
      const now = clock.now();
      const quietAt = this.#lastMark + this.#d.debounceMs;
      if (quietAt > now && now < latest && !this.#stopped) {
        this.#arm(quietAt);
        return;
      }
      this.flush().catch((err: unknown) => this.#d.failed("status flush failed", err));
    });
  }

  /** No more timed flushes; flush() still writes what is marked. */
  stop(): void {
    this.#stopped = true;
    this.#timer?.();
  }

  /** Writes every marked schedule's status; one schedule's failure is reported and the others are written. */
  async flush(): Promise<void> {
    const now = this.#d.ports.clock.now();
    const dirty = new Set(this.#dirty);
    this.#dirty.clear();
    const reports = new Map<string, ServiceReport[]>();
    const overridden = new Map<string, string[]>();
    for (const [k, record] of this.#d.services()) {
      const last = record.last;
      for (const o of last?.overridden ?? []) if (dirty.has(o)) overridden.set(o, [...(overridden.get(o) ?? []), k]);
      if (!last?.schedule || !dirty.has(last.schedule)) continue;
      const list = reports.get(last.schedule) ?? [];
      const id = parseServiceKey(k);
      list.push({
        // a cluster schedule's services are in many namespaces: the name alone would be ambiguous
        name: splitKey(last.schedule)[0] === CLUSTER_SCOPE ? `${id.namespace}/${id.name}` : id.name,
        kind: id.kind,
        decision: last.decision,
        gpus: last.gpus,
        since: last.since,
        nextTransition: last.decision.recheckAt,
        notConfirmed: record.notConfirmed,
        released: last.released,
        releasedAt: last.releasedAt,
      });
      reports.set(last.schedule, list);
    }
    await Promise.all(
      [...dirty].map((s) =>
        this.#flushOne(s, now, reports.get(s) ?? [], overridden.get(s)).catch((err: unknown) =>
          this.#d.failed(`status of ${s} failed`, err),
        ),
      ),
    );
  }

  async #flushOne(s: string, now: number, services: ServiceReport[], overridden: string[] | undefined): Promise<void> {
    const record = this.#d.book.get(s);
    if (!record) return;
    const { entry } = record;
    const previous = scheduleStatusOf(entry.obj);
    const status = capStatus(
      buildStatus({
        generation: entry.obj.metadata.generation,
        valid: entry.ok ? { ok: true, warnings: entry.warnings } : { ok: false, message: entry.message },
        metrics: entry.ok && entry.spec.idle ? (record.metrics ?? { ok: true }) : undefined,
        services,
        next: entry.ok ? nextTransition(entry.compiled, now) : undefined,
        gpuHoursReclaimed: this.#d.ledger.hours(s, now) ?? 0,
        previous,
        now,
        ...(splitKey(s)[0] === CLUSTER_SCOPE ? { overridden: overridden ?? [] } : {}),
      }),
    );
    // GPU-hours grow every second while GPUs are reclaimed. Writing them on every tick would
    // make a status write per schedule per tick at rest; they are carried along with the
    // next real change instead, and /metrics has the live figure.
    const before = entry.obj.status;
    if (before !== undefined && canonicalJson({ ...status, gpuHoursReclaimed: previous?.gpuHoursReclaimed }) === canonicalJson(before))
      return;
    const [namespace, name] = splitKey(s);
    await this.#d.ports.writeStatus(namespace, name, status);
  }
}
