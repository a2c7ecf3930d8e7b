// The daemon's ServingSchedules: each compiled once by src/decide/schedules.ts (as the CLI does),
// with what only the daemon needs around it: the timer of its next transition, what it says now
// (cached for the period, as nothing but the reason can change within one), and whether its
// request rates could be read.
import { stateAt, nextTransition } from "../schedule/index.ts";
import type { ScheduleMoment } from "../decide/decide.ts";
import { scheduleMoment } from "../decide/facts.ts";
import { type CompiledEntry, compileEntryAt, governingOf, type ValidSchedule } from "../decide/schedules.ts";
import type { Service } from "../sources/kube/service.ts";
import { isClusterSchedule, type ScheduleObject, scheduleStatusOf } from "../sources/kube/servingSchedule.ts";
import type { Cancel } from "./clock.ts";
import type { GpuLedger } from "./ledger.ts";
import { keyOf, type ReconcilerPorts, scheduleRef } from "./ports.ts";

export type MetricsState = { ok: true } | { ok: false; message: string };

/** How long before a transition the shell is told to get its writes ready (warm()). */
export const WARM_AHEAD_MS = 5_000;

export type ScheduleRecord = {
  entry: CompiledEntry;
  timer: Cancel | undefined;
  /** Fires WARM_AHEAD_MS before `timer`. */
  warmTimer: Cancel | undefined;
  moment: { value: ScheduleMoment; from: number; until: number } | undefined;
  /** Whether the idle policy's request rates could be read at the last tick; undefined before the first. */
  metrics: MetricsState | undefined;
};

type Deps = {
  ports: Pick<ReconcilerPorts, "clock" | "log" | "metrics" | "event" | "namespaceLabels">;
  ledger: GpuLedger;
  /** The schedule's status has something new to say. */
  changed: (schedule: string) => void;
  /** A transition is due: every service of the namespace (all of them for a cluster schedule) is decided again. */
  transition: (namespace: string, at: number) => void;
  /** A transition of the namespace's services (all of them for a cluster schedule) is WARM_AHEAD_MS away. */
  warm?: ((namespace: string) => void) | undefined;
};

export class ScheduleBook {
  readonly #records = new Map<string, ScheduleRecord>();
  readonly #d: Deps;
  #stopped = false;

  constructor(deps: Deps) {
    this.#d = deps;
  }

  get(k: string): ScheduleRecord | undefined {
    return this.#records.get(k);
  }

  records(): IterableIterator<[string, ScheduleRecord]> {
    return this.#records.entries();
  }

  /** Takes in a new or changed schedule; true when its services must be decided again (not for a status-only update). */
  upsert(obj: ScheduleObject): boolean {
    const k = keyOf(obj);
    const before = this.#records.get(k);
    if (before && before.entry.obj.metadata.generation === obj.metadata.generation && before.entry.obj.metadata.uid === obj.metadata.uid) {
      before.entry = { ...before.entry, obj }; // our own status write: nothing to recompute
      return false;
    }
    before?.timer?.();
    before?.warmTimer?.();
    const { clock, log, event, metrics } = this.#d.ports;
    const entry = compileEntryAt(obj, clock.now());
    if (!entry.ok && (!before || before.entry.ok || before.entry.message !== entry.message)) {
      log.warn(isClusterSchedule(obj) ? "invalid ClusterServingSchedule" : "invalid ServingSchedule", {
        schedule: k,
        message: entry.message,
      });
      event(scheduleRef(obj), "Warning", "Invalid", entry.message);
    }
    // GPU-hours survive restarts and failovers through the status they were last written to.
    if (entry.ok) this.#d.ledger.open(k, scheduleStatusOf(obj)?.gpuHoursReclaimed ?? 0, clock.now());
    this.#records.set(k, { entry, timer: undefined, warmTimer: undefined, moment: undefined, metrics: before?.metrics });
    this.#arm(k);
    this.#d.changed(k);
    metrics.setSchedulesInvalid([...this.#records.values()].filter((r) => !r.entry.ok).length);
    return true;
  }

  remove(k: string): ScheduleRecord | undefined {
    const record = this.#records.get(k);
    if (!record) return undefined;
    record.timer?.();
    record.warmTimer?.();
    this.#records.delete(k);
    this.#d.ledger.close(k);
    this.#d.ports.metrics.setSchedulesInvalid([...this.#records.values()].filter((r) => !r.entry.ok).length);
    return record;
  }

  stop(): void {
    this.#stopped = true;
    for (const r of this.#records.values()) {
      r.timer?.();
      r.warmTimer?.();
    }
  }

  /**
   * The schedule that governs the service, the keys of those it overrules, and of the
   * ClusterServingSchedules its namespace's own schedule overrides.
   */
  governing(service: Service): { governing: ValidSchedule | undefined; overruled: string[]; overridden: string[] } {
    const { governing, overruled, overridden } = governingOf(
      [...this.#records.values()].map((r) => r.entry),
      service,
      this.#d.ports.namespaceLabels?.(service.metadata.namespace),
    );
    return { governing, overruled: overruled.map((o) => o.key), overridden: overridden.map((o) => o.key) };
  }

  /** Whether any ClusterServingSchedule is known: only then do a namespace's labels matter. */
  hasClusterSchedules(): boolean {
    for (const r of this.#records.values()) if (isClusterSchedule(r.entry.obj)) return true;
    return false;
  }

  /** What the schedule says at `now`. */
  moment(entry: ValidSchedule, now: number): ScheduleMoment {
    const record = this.#records.get(entry.key);
    const cached = record?.moment;
    if (cached && now >= cached.from && now < cached.until) return { ...cached.value, now: stateAt(entry.compiled, now) };
    const value = scheduleMoment(entry.key, entry.spec, entry.compiled, now, entry.createdAt, entry.obj.metadata.generation);
    if (record)
      record.moment = {
        value,
        from: Number.isFinite(value.periodStart) ? value.periodStart : Number.NEGATIVE_INFINITY,
        until: value.next?.at ?? Number.POSITIVE_INFINITY,
      };
    return value;
  }

  #arm(k: string): void {
    const record = this.#records.get(k);
    if (!record?.entry.ok || this.#stopped) return;
    const { namespace } = record.entry.obj.metadata;
    const next = nextTransition(record.entry.compiled, this.#d.ports.clock.now());
    if (!next) return;
    const { warm } = this.#d;
    if (warm && next.at - WARM_AHEAD_MS > this.#d.ports.clock.now()) {
      record.warmTimer = this.#d.ports.clock.at(next.at - WARM_AHEAD_MS, () => {
        record.warmTimer = undefined;
        if (this.#records.get(k) === record) warm(namespace);
      });
    }
    record.timer = this.#d.ports.clock.at(next.at, () => {
      record.timer = undefined;
      if (this.#records.get(k) !== record) return;
      this.#d.ports.log.info("schedule transition", {
        schedule: k,
        at: new Date(next.at).toISOString(),
        state: next.state,
        reason: next.reason,
      });
      this.#d.transition(namespace, next.at);
      this.#arm(k);
    });
  }
}
