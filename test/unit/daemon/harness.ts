// The reconciler with in-memory ports and a fake clock: what the daemon's shell tests share.
import type { Cancel, Clock } from "../../../src/daemon/clock.ts";
import { Reconciler, type ReconcilerOptions, type ReconcilerPorts } from "../../../src/daemon/reconciler.ts";
import { keyOf } from "../../../src/daemon/ports.ts";
import type { InvolvedObject } from "../../../src/act/events.ts";
import type { PatchResult } from "../../../src/act/patcher.ts";
import type { ServingScheduleStatus } from "../../../src/api/servingSchedule.ts";
import { ReclaimerMetrics } from "../../../src/report/metrics.ts";
import { type Service, toService } from "../../../src/sources/kube/service.ts";
import type { ScheduleObject } from "../../../src/sources/kube/servingSchedule.ts";
import type { Logger } from "../../../src/report/log.ts";

export const START = Date.parse("2026-12-01T10:00:00Z");

export class FakeClock implements Clock {
  t = START;
  #timers: { at: number; fn: () => void; live: boolean }[] = [];
  now(): number {
    return this.t;
  }
  at(instant: number, fn: () => void): Cancel {
    const timer = { at: instant, fn, live: true };
    this.#timers.push(timer);
    return () => (timer.live = false);
  }
  every(ms: number, fn: () => void): Cancel {
    let cancel: Cancel = () => {};
    const arm = (from: number) => (cancel = this.at(from + ms, () => (arm(from + ms), fn())));
    arm(this.t);
    return () => cancel();
  }
  /** Timers armed and neither fired nor cancelled. */
  get live(): number {
    this.#timers = this.#timers.filter((x) => x.live);
    return this.#timers.length;
  }
  /** Advances time, firing due timers in order and letting the work they start settle. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await settle();
      const due = this.#timers.filter((x) => x.live && x.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      due.live = false;
      this.t = Math.max(this.t, due.at);
      due.fn();
    }
    this.t = end;
    await settle();
  }
}

export async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise<void>((r) => setImmediate(r));
}

export type RecordedEvent = { ref: InvolvedObject; type: string; reason: string; message: string };
export type Patch = { name: string; annotations: Record<string, string | null>; resourceVersion: string | undefined };

export function schedule(name: string, spec: unknown, extra: Partial<ScheduleObject["metadata"]> = {}): ScheduleObject {
  return {
    metadata: { name, namespace: "ml", uid: `uid-${name}`, generation: 1, creationTimestamp: "2026-01-01T00:00:00Z", ...extra },
    spec,
  };
}

/** A Ready InferenceService asking for `gpu` GPUs, as the informer keeps it. */
export function service(
  name: string,
  annotations: Record<string, string> = {},
  gpu: string | number = "1",
  extra: Record<string, unknown> = {},
  conditions: { type: string; status: string; lastTransitionTime?: string }[] = [
    { type: "Ready", status: "True", lastTransitionTime: "2026-12-01T08:00:00Z" },
  ],
  labels: Record<string, string> = {},
): Service {
  return toService(
    {
      metadata: {
        name,
        namespace: "ml",
        uid: `uid-${name}`,
        resourceVersion: "1",
        creationTimestamp: "2026-01-01T00:00:00Z",
        labels,
        annotations,
      },
      spec: { predictor: { model: { resources: { limits: { "nvidia.com/gpu": gpu } } }, ...extra } },
      status: { conditions },
    },
    "Standard",
  );
}

export function harness(opts: {
  services: Service[];
  schedule?: unknown;
  schedules?: ScheduleObject[];
  overrides?: Partial<ReconcilerPorts>;
  options?: Partial<ReconcilerOptions>;
}) {
  const clock = new FakeClock();
  const services = new Map(opts.services.map((s) => [keyOf(s), s]));
  const schedules = new Map(
    (opts.schedules ?? [schedule("office", opts.schedule)]).map((s) => [`${s.metadata.namespace}/${s.metadata.name}`, s]),
  );
  const events: RecordedEvent[] = [];
  const patches: Patch[] = [];
  const statuses: ServingScheduleStatus[] = [];
  const forgotten: string[] = [];
  const logs: { level: string; msg: string; fields?: Record<string, unknown> }[] = [];
  const metrics = new ReclaimerMetrics({ defaultMetrics: false });
  const entry = (level: string) => (msg: string, fields?: Record<string, unknown>) => logs.push({ level, msg, fields });
  const log: Logger = {
    debug: entry("debug"),
    info: entry("info"),
    warn: entry("warn"),
    error: entry("error"),
    with: () => log,
  };
  /** What the next patches answer, in order; "ok" once they run out. */
  const answers: PatchResult["kind"][] = [];
  const ports: ReconcilerPorts = {
    clock,
    log,
    metrics,
    services: { list: () => [...services.values()], get: (key) => services.get(key) },
    schedules: { list: () => [...schedules.values()], get: (ns, name) => schedules.get(`${ns}/${name}`) },
    patchAnnotations: async ({ name }, annotations, resourceVersion): Promise<PatchResult> => {
      patches.push({ name, annotations, resourceVersion });
      const kind = answers.shift() ?? "ok";
      if (kind === "conflict") return { kind, message: "the object has been modified" };
      if (kind === "notFound") return { kind, message: "not found" };
      if (kind === "error") return { kind, code: 500, reason: "InternalError", message: "etcd is sad" };
      return { kind: "ok", resourceVersion: "2", annotations: {} };
    },
    event: (ref, type, reason, message) => events.push({ ref, type, reason, message }),
    writeStatus: async (ns, name, status) => {
      statuses.push(status);
      const s = schedules.get(`${ns}/${name}`);
      if (s) s.status = status;
    },
    forgetStatus: (ns, name) => forgotten.push(`${ns}/${name}`),
    readTraffic: undefined,
    ...opts.overrides,
  };
  const reconciler = new Reconciler(ports, {
    dryRun: false,
    idleIntervalMs: 15_000,
    confirmStopTimeoutMs: 120_000,
    confirmStartTimeoutMs: 900_000,
    statusDebounceMs: 1000,
    ...opts.options,
  });
  return { clock, reconciler, events, patches, answers, statuses, forgotten, logs, metrics, services, schedules, ports };
}

export async function metric(metrics: ReclaimerMetrics, name: string): Promise<string[]> {
  return (await metrics.render()).split("\n").filter((l) => l.startsWith(name));
}
