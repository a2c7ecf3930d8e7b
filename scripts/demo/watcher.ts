// What the demo reads from the cluster each second, and what it remembers between reads (when each
// service last served a request, the GPU-hours at the last status write). Everything is read with
// the project's own functions: InferenceServices, GPUs and conditions as the daemon parses them,
// the governing schedule by the daemon's rule, the daemon's state record by the daemon's reader. So
// the screen shows what the daemon sees, and a change to those rules shows up in the demo too.
import type { KubernetesObject, KubernetesObjectApi } from "@kubernetes/client-node";
import { isStopSet, readState } from "../../src/api/annotations.ts";
import type { ServingScheduleStatus } from "../../src/api/servingSchedule.ts";
import { compileEntry, governingOf } from "../../src/decide/schedules.ts";
import { nextTransition } from "../../src/schedule/index.ts";
import {
  gpusOf,
  type InferenceService,
  isReady,
  parseGpuQuantity,
  parseInferenceService,
  parseQuantity,
} from "../../src/sources/kube/inferenceService.ts";
import { parseScheduleObject } from "../../src/sources/kube/servingSchedule.ts";
import type { ServiceReport as TrafficReport } from "../../test/support/simulator.ts";
import { IDLE_AFTER_S, NAMESPACE } from "./scenario.ts";
import { clock, countdown, type ServiceRow, type Snapshot } from "./view.ts";

/** Pods and nodes are read only for the GPUs they hold and offer; the daemon never reads them. */
type Raw = KubernetesObject & {
  metadata: { namespace?: string; labels?: Record<string, string>; deletionTimestamp?: string | Date };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
};

/** Only `list` is used: a test passes a fake cluster. */
export type ClusterReader = Pick<KubernetesObjectApi, "list">;
export type TrafficReader = { state(): Promise<TrafficReport[]> };

/** The reasons the daemon gives for services it does not act on: no next transition applies to them. */
const HANDS_OFF = ["Excluded", "NotSelected", "Unsupported", "ManualStop"];

async function listRaw(objects: ClusterReader, apiVersion: string, kind: string, namespace?: string): Promise<Raw[]> {
  return (await objects.list(apiVersion, kind, namespace)).items as Raw[];
}

export async function listInferenceServices(objects: ClusterReader): Promise<InferenceService[]> {
  return (await listRaw(objects, "serving.kserve.io/v1beta1", "InferenceService", NAMESPACE)).map(parseInferenceService);
}

/** The GPUs the demo's nodes offer (kwok) and its services ask for. */
const GPU = "nvidia.com/gpu";

/** GPUs of a pod's containers, each read as the daemon reads a service's: the limit, else the request. */
function podGpus(pod: Raw): number {
  const containers =
    (pod.spec?.["containers"] as { resources?: { limits?: Record<string, string>; requests?: Record<string, string> } }[]) ?? [];
  return containers.reduce((n, c) => {
    const q = c.resources?.limits?.[GPU] ?? c.resources?.requests?.[GPU];
    const parsed = q === undefined ? undefined : parseGpuQuantity(q);
    return n + (parsed?.ok ? parsed.gpus : 0);
  }, 0);
}

function nodeGpus(node: Raw): number {
  const q = (node.status?.["allocatable"] as Record<string, string> | undefined)?.[GPU];
  return q === undefined ? 0 : (parseQuantity(q) ?? 0);
}

function readyCondition(isvc: InferenceService) {
  return isvc.status?.conditions?.find((c) => c.type === "Ready");
}

export class Watcher {
  readonly events: string[] = [];
  readonly #hours = new Map<string, { hours: number; gpus: number; at: number }>();
  readonly #served = new Map<string, { total: number; at: number }>();
  readonly objects: ClusterReader;
  readonly sim: TrafficReader;
  lastError: string | undefined;

  constructor(objects: ClusterReader, sim: TrafficReader) {
    this.objects = objects;
    this.sim = sim;
  }

  event(text: string): void {
    this.events.push(text);
    if (this.events.length > 50) this.events.splice(0, this.events.length - 50);
  }

  /** `order`: the services' names in the order the demo created them, the order of the rows. */
  async snapshot(now: number, order: readonly string[]): Promise<Snapshot> {
    const [isvcs, schedules, pods, nodes, traffic] = await Promise.all([
      listInferenceServices(this.objects),
      listRaw(this.objects, "reclaimer.dev/v1alpha1", "ServingSchedule", NAMESPACE),
      listRaw(this.objects, "v1", "Pod"),
      listRaw(this.objects, "v1", "Node"),
      this.sim.state().catch(() => [] as TrafficReport[]),
    ]);
    isvcs.sort((a, b) => order.indexOf(a.metadata.name) - order.indexOf(b.metadata.name));
    // compiled on every read: a few schedules cost well under a millisecond, and an edit shows at once
    const entries = schedules.map(parseScheduleObject).map(compileEntry);

    const livePods = pods.filter((p) => {
      const phase = p.status?.["phase"];
      return (p.spec?.["nodeName"] ?? "") !== "" && !p.metadata.deletionTimestamp && phase !== "Succeeded" && phase !== "Failed";
    });
    const gpusInUse = livePods.reduce((n, p) => n + podGpus(p), 0);

    let gpusReclaimed = 0;
    let gpuHoursReclaimed = 0;
    for (const sc of entries) {
      const st = (sc.obj.status ?? {}) as ServingScheduleStatus;
      const seen = { hours: st.gpuHoursReclaimed ?? 0, gpus: st.gpusReclaimed ?? 0 };
      let base = this.#hours.get(sc.key);
      if (!base || base.hours !== seen.hours || base.gpus !== seen.gpus) {
        base = { ...seen, at: now };
        this.#hours.set(sc.key, base);
      }
      gpusReclaimed += seen.gpus;
      // The status is written when something changes; in between, the reclaimed GPUs keep adding up.
      gpuHoursReclaimed += base.hours + (base.gpus * (now - base.at)) / 3_600_000;
    }

    const rows: ServiceRow[] = isvcs.map((isvc) => {
      const name = isvc.metadata.name;
      const key = `${NAMESPACE}/${name}`;
      const { governing: sc } = governingOf(entries, isvc);
      const entry = ((sc?.obj.status ?? {}) as ServingScheduleStatus).services?.find((e) => e.name === name);
      // The annotation changes first; the daemon's status follows within a second. Until it does, the
      // reason comes from the daemon's record on the object (reclaimer.dev/state).
      const state = isStopSet(isvc.metadata.annotations) ? "Stopped" : "Running";
      const record = readState(isvc.metadata.annotations);
      const recorded = record.kind === "ok" ? record.state.reason : undefined;
      const reason = entry && entry.state === state ? entry.reason : (recorded ?? entry?.reason ?? "-");
      const upcoming = sc ? nextTransition(sc.compiled, now) : undefined;
      const next = !HANDS_OFF.includes(reason) && upcoming ? { at: upcoming.at, state: upcoming.state } : undefined;
      const inUse = livePods
        .filter((p) => p.metadata.namespace === NAMESPACE && p.metadata.labels?.["serving.kserve.io/inferenceservice"] === name)
        .reduce((n, p) => n + podGpus(p), 0);

      let note = "";
      if (reason === "Excluded") note = 'reclaimer.dev/exclude: "true": hands off, keeps its GPUs whatever the schedule says';
      const idle = sc?.spec.idle;
      if (idle) {
        const t = traffic.find((r) => r.target === key);
        const served = this.#served.get(key);
        if (t && (!served || served.total !== t.servedTotal)) this.#served.set(key, { total: t.servedTotal, at: now });
        const lastServed = this.#served.get(key)?.at;
        if (state === "Stopped") {
          note =
            reason === "Idle" ? `no requests for ${idle.after}; no uptime windows to start it again: kserve-reclaimer wake ${key}` : "";
        } else if (t?.load) {
          note = `traffic: ${t.load.rps} req/s for another ${Math.ceil(t.load.remainingSeconds)} s (${t.servedTotal} requests served)`;
        } else {
          const readyAt = readyCondition(isvc)?.lastTransitionTime;
          const readySince = isReady(isvc) && readyAt !== undefined ? Date.parse(readyAt) : undefined;
          const quietSince = Math.max(lastServed ?? 0, readySince ?? 0);
          const eta = quietSince > 0 ? quietSince + IDLE_AFTER_S * 1000 - now : Number.NaN;
          note = `no requests since ${quietSince > 0 ? clock(quietSince) : "-"}: idle for ${idle.after} stops it${Number.isFinite(eta) ? ` (≈ in ${countdown(eta)}, checked every 5 s)` : ""}`;
        }
      }
      return {
        key,
        schedule: sc?.obj.metadata.name,
        state,
        reason,
        ready: readyCondition(isvc)?.status ?? "Unknown",
        gpus: gpusOf(isvc),
        gpusInUse: inUse,
        since: entry?.since ? Date.parse(entry.since) : undefined,
        next,
        note,
      };
    });
    return {
      now,
      rows,
      gpuCapacity: nodes.reduce((n, node) => n + nodeGpus(node), 0),
      gpusInUse,
      gpusReclaimed,
      gpuHoursReclaimed,
      events: [...this.events],
    };
  }
}
