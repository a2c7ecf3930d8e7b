// ServingSchedules as the daemon, the CLI (status, plan --cluster, wake, sleep) and the demo read
// them: validated with the same function as `kserve-reclaimer validate` and compiled once, and which
// valid schedule governs a service. One module, so the CLI can never tell a person something the
// daemon would not do.
import { API_VERSION, KIND, type ServingScheduleSpec } from "../api/servingSchedule.ts";
import { validateServingSchedule } from "../api/validate.ts";
import { type CompiledSchedule, compileSchedule } from "../schedule/index.ts";
import type { ScheduleObject } from "../sources/kube/servingSchedule.ts";
import { toMs } from "./facts.ts";
import { chooseGoverning } from "./selector.ts";

export type ValidSchedule = {
  ok: true;
  /** "namespace/name" */
  key: string;
  obj: ScheduleObject;
  spec: ServingScheduleSpec;
  compiled: CompiledSchedule;
  createdAt: number;
  /** Valid, but probably not what was meant (e.g. flips more often than every 10 minutes). */
  warnings: string[];
};
export type InvalidSchedule = { ok: false; key: string; obj: ScheduleObject; message: string; createdAt: number };
export type CompiledEntry = ValidSchedule | InvalidSchedule;

/** Validates and compiles one ServingSchedule object; an invalid one carries why, in one line. */
export function compileEntry(obj: ScheduleObject): CompiledEntry {
  const key = `${obj.metadata.namespace}/${obj.metadata.name}`;
  const createdAt = toMs(obj.metadata.creationTimestamp) ?? 0;
  // What the CRD cannot check (IANA zones, cron ranges, calendar dates) is caught here.
  const parsed = validateServingSchedule({
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name: obj.metadata.name, namespace: obj.metadata.namespace },
    spec: obj.spec ?? {},
  });
  if (!parsed.ok) return { ok: false, key, obj, createdAt, message: parsed.problems.map((p) => `${p.path}: ${p.message}`).join("; ") };
  try {
    const warnings = parsed.warnings.map((w) => `${w.path}: ${w.message}`);
    return { ok: true, key, obj, spec: parsed.schedule.spec, compiled: compileSchedule(parsed.schedule.spec), createdAt, warnings };
  } catch (err) {
    return { ok: false, key, obj, createdAt, message: err instanceof Error ? err.message : String(err) };
  }
}

/**
 * Which valid schedule of the service's namespace governs it: the oldest, ties by name (see
 * chooseGoverning); the others that select it are overruled and reported.
 */
export function governingOf<E extends ValidSchedule>(
  entries: Iterable<E | InvalidSchedule>,
  service: { metadata: { namespace: string; labels?: Record<string, string> | undefined } },
): { governing: E | undefined; overruled: E[] } {
  const candidates: { namespace: string; name: string; createdAt: number; selector: ServingScheduleSpec["selector"]; entry: E }[] = [];
  for (const entry of entries) {
    if (!entry.ok || entry.obj.metadata.namespace !== service.metadata.namespace) continue;
    candidates.push({
      namespace: entry.obj.metadata.namespace,
      name: entry.obj.metadata.name,
      createdAt: entry.createdAt,
      selector: entry.spec.selector,
      entry,
    });
  }
  const { governing, overruled } = chooseGoverning(candidates, service.metadata.labels);
  return { governing: governing?.entry, overruled: overruled.map((o) => o.entry) };
}
