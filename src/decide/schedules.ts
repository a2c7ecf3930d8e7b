// ServingSchedules as the daemon, the CLI (status, plan --cluster, wake, sleep) and the demo read
// them: validated with the same function as `kserve-reclaimer validate` and compiled once, and which
// valid schedule governs a service. One module, so the CLI can never tell a person something the
// daemon would not do.
import { API_VERSION, CLUSTER_KIND, KIND, type NamespaceSelector, type ServingScheduleSpec } from "../api/servingSchedule.ts";
import { validateServingSchedule } from "../api/validate.ts";
import { type CompiledSchedule, compileSchedule } from "../schedule/index.ts";
import { isClusterSchedule, type ScheduleObject } from "../sources/kube/servingSchedule.ts";
import { toMs } from "./facts.ts";
import { chooseGoverning, selectorMatches } from "./selector.ts";

export type ValidSchedule = {
  ok: true;
  /** "namespace/name"; "/name" for a ClusterServingSchedule (no namespace). */
  key: string;
  /** The namespaces a ClusterServingSchedule reaches; undefined for a ServingSchedule. */
  namespaceSelector: NamespaceSelector | undefined;
  obj: ScheduleObject;
  spec: ServingScheduleSpec;
  compiled: CompiledSchedule;
  createdAt: number;
  /** Valid, but probably not what was meant (e.g. flips more often than every 10 minutes). */
  warnings: string[];
};
export type InvalidSchedule = { ok: false; key: string; obj: ScheduleObject; message: string; createdAt: number };
export type CompiledEntry = ValidSchedule | InvalidSchedule;

/**
 * Validates and compiles one ServingSchedule object; an invalid one carries why, in one line.
 * (A single parameter on purpose: callers write `.map(compileEntry)`.)
 */
export function compileEntry(obj: ScheduleObject): CompiledEntry {
  return compileEntryAt(obj, undefined);
}

/** compileEntry, plus the warnings that need the time (a dated exception entirely in the past). */
export function compileEntryAt(obj: ScheduleObject, now: number | undefined): CompiledEntry {
  const key = `${obj.metadata.namespace}/${obj.metadata.name}`;
  const createdAt = toMs(obj.metadata.creationTimestamp) ?? 0;
  const cluster = isClusterSchedule(obj);
  // What the CRD cannot check (IANA zones, cron ranges, calendar dates) is caught here.
  const parsed = validateServingSchedule(
    {
      apiVersion: API_VERSION,
      kind: cluster ? CLUSTER_KIND : KIND,
      metadata: cluster ? { name: obj.metadata.name } : { name: obj.metadata.name, namespace: obj.metadata.namespace },
      spec: obj.spec ?? {},
    },
    now,
  );
  if (!parsed.ok) return { ok: false, key, obj, createdAt, message: parsed.problems.map((p) => `${p.path}: ${p.message}`).join("; ") };
  try {
    const warnings = parsed.warnings.map((w) => `${w.path}: ${w.message}`);
    const { spec } = parsed.schedule;
    const namespaceSelector = "namespaceSelector" in spec ? spec.namespaceSelector : undefined;
    return { ok: true, key, namespaceSelector, obj, spec, compiled: compileSchedule(spec), createdAt, warnings };
  } catch (err) {
    return { ok: false, key, obj, createdAt, message: err instanceof Error ? err.message : String(err) };
  }
}

/**
 * Which valid schedule governs a service. The namespace's own ServingSchedules come first: when any
 * selects the service, the oldest of them governs (ties by name, see chooseGoverning), because the
 * team that owns the namespace knows its services better than a cluster-wide default does. Only
 * when none does, the oldest ClusterServingSchedule whose namespaceSelector matches the namespace's
 * labels and whose selector matches the service's governs. `overruled` are the others of the same
 * kind that select it (a conflict); `overridden` are the cluster ones a ServingSchedule displaced.
 * `namespaceLabels` undefined means the namespace is not known (yet): no cluster schedule reaches it.
 */
export function governingOf<E extends ValidSchedule>(
  entries: Iterable<E | InvalidSchedule>,
  service: { kind?: string | undefined; metadata: { namespace: string; labels?: Record<string, string> | undefined } },
  namespaceLabels?: Record<string, string>,
): { governing: E | undefined; overruled: E[]; overridden: E[] } {
  const own: Candidate<E>[] = [];
  const cluster: Candidate<E>[] = [];
  // an object that does not say its kind is an InferenceService, the one kind there once was
  const kind = service.kind ?? "InferenceService";
  for (const entry of entries) {
    if (!entry.ok || !entry.spec.kinds.some((k) => k === kind)) continue;
    const candidate = {
      namespace: entry.obj.metadata.namespace,
      name: entry.obj.metadata.name,
      createdAt: entry.createdAt,
      selector: entry.spec.selector,
      entry,
    };
    if (entry.namespaceSelector === undefined) {
      if (entry.obj.metadata.namespace === service.metadata.namespace) own.push(candidate);
    } else if (namespaceLabels !== undefined && selectorMatches(entry.namespaceSelector, namespaceLabels)) {
      cluster.push(candidate);
    }
  }
  const labels = service.metadata.labels;
  const local = chooseGoverning(own, labels);
  const wide = chooseGoverning(cluster, labels);
  const entriesOf = (cs: Candidate<E>[]) => cs.map((c) => c.entry);
  if (local.governing)
    return {
      governing: local.governing.entry,
      overruled: entriesOf(local.overruled),
      overridden: entriesOf(wide.governing ? [wide.governing, ...wide.overruled] : []),
    };
  return { governing: wide.governing?.entry, overruled: entriesOf(wide.overruled), overridden: [] };
}

type Candidate<E> = { namespace: string; name: string; createdAt: number; selector: ServingScheduleSpec["selector"]; entry: E };
