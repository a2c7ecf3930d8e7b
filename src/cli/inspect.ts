// The pure half of `status`, `wake` and `sleep`: from objects read from the cluster, what governs a
// service, what the daemon would decide now (the same decide() the daemon runs), what to patch, and
// how to print it. No I/O and no clock: `now` is an argument.
import {
  EXCLUDE,
  KEEP_RUNNING_UNTIL,
  STATE,
  STOP,
  isStopSet,
  parseRfc3339,
  readState,
  writeState,
  type ParsedState,
} from "../api/annotations.ts";
import type { ServiceStatus, ServingScheduleStatus } from "../api/servingSchedule.ts";
import { decide, type Decision, type ScheduleMoment, type ServiceFacts, type Traffic } from "../decide/decide.ts";
import { scheduleMoment, serviceFacts } from "../decide/facts.ts";
import { type CompiledEntry, compileEntry, governingOf, type ValidSchedule } from "../decide/schedules.ts";
import { nextTransition, type CompiledSchedule, type Transition } from "../schedule/index.ts";
import { deploymentModeOf, gpusOf, type DeploymentMode, type InferenceService } from "../sources/kube/inferenceService.ts";
import { formatLocal } from "../plan/plan.ts";
import { UsageError } from "./io.ts";
import { parseBoundedDuration } from "../api/duration.ts";
import { visible } from "./visible.ts";

// ---------------------------------------------------------------------------------------------------
// Arguments

/** "ns/name", or "name" in the default namespace (-n, else the kubeconfig context's). */
export function parseTarget(text: string | undefined, defaultNamespace: string, command: string): { namespace: string; name: string } {
  if (text === undefined || text === "") throw new UsageError(`${command} needs an InferenceService: ${command} <namespace>/<name>`);
  const parts = text.split("/");
  const dns = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
  if (parts.length > 2 || parts.some((p) => !dns.test(p))) throw new UsageError(`"${text}" is not <namespace>/<name> or <name>`);
  return parts.length === 2
    ? { namespace: parts[0] as string, name: parts[1] as string }
    : { namespace: defaultNamespace, name: parts[0] as string };
}

/** wake --for: a minute to a year; longer is a typo, and beyond year 275760 no date exists to write. */
export const WAKE_FOR_BOUNDS = { min: 60_000, max: 366 * 24 * 3_600_000 } as const;

/** --for: a Go-style duration ("2h", "90m", "1h30m") within WAKE_FOR_BOUNDS. */
export function parseFor(text: string): number {
  const parsed = parseBoundedDuration("--for", text.trim(), WAKE_FOR_BOUNDS);
  if (!parsed.ok) throw new UsageError(parsed.message);
  return parsed.ms;
}

// ---------------------------------------------------------------------------------------------------
// Schedules and the local decision

export type ScheduleEntry = CompiledEntry;
export type ValidEntry = ValidSchedule;
export { compileEntry, governingOf };

/** The next `count` transitions after `now`. */
export function upcoming(compiled: CompiledSchedule, now: number, count: number): Transition[] {
  const out: Transition[] = [];
  let t = now;
  while (out.length < count) {
    const next = nextTransition(compiled, t);
    if (!next) break;
    out.push(next);
    t = next.at;
  }
  return out;
}

/** The first transition to Running after `now` (where a daemon's stop ends). */
export function nextRunning(compiled: CompiledSchedule, now: number): Transition | undefined {
  let t = now;
  for (let i = 0; i < 1000; i++) {
    const next = nextTransition(compiled, t);
    if (!next || next.state === "Running") return next;
    t = next.at;
  }
  return undefined;
}

export type Evaluation = {
  key: string;
  facts: ServiceFacts;
  mode: DeploymentMode;
  governing: ValidEntry | undefined;
  overruled: ValidEntry[];
  moment: ScheduleMoment | undefined;
  /** What the daemon would decide now. */
  decision: Decision;
  /** Whether idle traffic was part of the decision. */
  traffic: Traffic | undefined;
  record: ParsedState;
  upcoming: Transition[];
};

/**
 * What the daemon would decide for one InferenceService now. Traffic: pass it when read from
 * Prometheus; without it the idle rule is not evaluated (unknown traffic never stops anything here).
 */
export function evaluate(
  isvc: InferenceService,
  entries: readonly ScheduleEntry[],
  now: number,
  opts: { traffic?: Traffic | undefined; defaultDeploymentMode?: DeploymentMode } = {},
): Evaluation {
  const mode = deploymentModeOf(isvc, opts.defaultDeploymentMode ?? "Standard");
  const facts = serviceFacts(isvc, {
    deploymentMode: mode,
    gpus: gpusOf(isvc, { defaultDeploymentMode: opts.defaultDeploymentMode ?? "Standard" }),
  });
  const { governing, overruled } = governingOf(entries, isvc);
  const moment = governing
    ? scheduleMoment(governing.key, governing.spec, governing.compiled, now, governing.createdAt, governing.obj.metadata.generation)
    : undefined;
  const traffic = governing?.spec.idle ? opts.traffic : undefined;
  const decision = decide({ now, service: facts, schedule: moment, traffic, globalDryRun: false });
  return {
    key: `${isvc.metadata.namespace}/${isvc.metadata.name}`,
    facts,
    mode,
    governing,
    overruled,
    moment,
    decision,
    traffic,
    record: readState(isvc.metadata.annotations),
    upcoming: governing ? upcoming(governing.compiled, now, 3) : [],
  };
}

// ---------------------------------------------------------------------------------------------------
// wake and sleep: what to write

/** The daemon leaves these alone; wake and sleep refuse them (nothing is written). */
export function handsOff(e: Evaluation): string | undefined {
  if (e.decision.skip === "Excluded")
    return `${EXCLUDE}: "true": the daemon leaves it alone (remove that annotation to let it manage the service, or set ${STOP} by hand)`;
  if (e.decision.skip === "Unsupported") return `ModelMesh mode: KServe ignores ${STOP}, so the daemon cannot stop or start it`;
  return undefined;
}

/**
 * wake: keep-running-until now+for. The daemon starts it (rule 2). A service no schedule selects has
 * no daemon to start it, so wake starts it itself (stop "false").
 */
export function wakePatch(e: Evaluation, now: number, forMs: number): Record<string, string | null> {
  const patch: Record<string, string | null> = { [KEEP_RUNNING_UNTIL]: rfc3339(now + forMs) };
  if (!e.governing && isStopSet(e.facts.annotations)) patch[STOP] = "false";
  return patch;
}

/**
 * sleep: stop now, recorded as the daemon's own stop (reason Sleep, the governing schedule), so the
 * daemon starts it again at the schedule's next Running transition; keep-running-until is removed.
 */
export function sleepPatch(e: Evaluation, now: number): Record<string, string | null> {
  return {
    [STOP]: "true",
    [STATE]: writeState({ v: 1, action: "stop", reason: "Sleep", schedule: e.governing?.key ?? "", at: new Date(now).toISOString() }),
    [KEEP_RUNNING_UNTIL]: null,
  };
}

/** RFC 3339 in UTC, whole seconds: 2026-12-01T14:00:00Z. */
export function rfc3339(ms: number): string {
  return `${new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(0, 19)}Z`;
}

/** "2026-12-01T14:00:00Z (Tue 2026-12-01 15:00 +01:00 Europe/Berlin, in 2h)". */
export function when(ms: number, now: number, compiled?: CompiledSchedule): string {
  const local = compiled ? `${formatLocal(compiled, ms)} ${compiled.timeZone}, ` : "";
  return `${rfc3339(ms)} (${local}${relative(ms, now)})`;
}

export function relative(ms: number, now: number): string {
  const d = ms - now;
  const text = span(Math.abs(d));
  return d >= 0 ? `in ${text}` : `${text} ago`;
}

/** 2d3h, 5h12m, 12m, 40s. */
export function span(ms: number): string {
  const s = Math.round(ms / 1000);
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d}d${h ? `${h}h` : ""}`;
  if (h > 0) return `${h}h${m ? `${m}m` : ""}`;
  if (m > 0) return `${m}m`;
  return `${s}s`;
}

export function wakeMessage(e: Evaluation, now: number, forMs: number): string[] {
  const until = now + forMs;
  const z = e.governing?.compiled;
  const lines: string[] = [];
  const stopped = isStopSet(e.facts.annotations);
  if (e.governing) {
    lines.push(`${e.key}: ${KEEP_RUNNING_UNTIL} set to ${when(until, now, z)}`);
    lines.push(
      stopped
        ? `  it is stopped now: the daemon starts it and keeps it up until then`
        : `  it is running: the daemon will not stop it before then`,
    );
    const after = e.governing ? nextAfter(e.governing.compiled, until) : undefined;
    lines.push(
      `  after that ${e.governing.key} applies again${after ? ` (next transition: ${after.state} at ${when(after.at, now, z)})` : ""}`,
    );
  } else {
    lines.push(`${e.key}: ${KEEP_RUNNING_UNTIL} set to ${when(until, now)}`);
    lines.push(
      stopped
        ? `  no ServingSchedule selects it: started it directly (${STOP}: "false"); nothing will stop it at that time`
        : `  no ServingSchedule selects it: the daemon does not manage it; the annotation has no effect until a schedule selects it`,
    );
  }
  return lines.map(visible);
}

function nextAfter(compiled: CompiledSchedule, at: number): Transition | undefined {
  return nextTransition(compiled, at);
}

export function sleepMessage(e: Evaluation, now: number): string[] {
  const lines = [`${e.key}: stopped (${STOP}: "true", recorded as the daemon's stop, reason Sleep)`];
  if (!e.governing) {
    lines.push("  no ServingSchedule selects it: it stays stopped until someone runs `wake` or removes the annotation");
    return lines.map(visible);
  }
  const next = nextRunning(e.governing.compiled, now);
  if (next) lines.push(`  ${e.governing.key} starts it again at its next Running transition: ${when(next.at, now, e.governing.compiled)}`);
  else
    lines.push(
      `  ${e.governing.key} has no Running transition ahead: it stays stopped until someone runs \`wake\` or removes the annotation`,
    );
  if (e.governing.spec.suspend) lines.push(`  note: ${e.governing.key} is suspended: the daemon starts nothing until it is resumed`);
  else if (e.governing.spec.dryRun) lines.push(`  note: ${e.governing.key} is in dry-run mode: the daemon starts nothing while it is`);
  return lines.map(visible);
}

export function scheduleInactiveNote(e: Evaluation): string | undefined {
  const s = e.governing?.spec;
  if (!s) return undefined;
  if (s.suspend) return visible(`${e.governing?.key} is suspended: the daemon will not act on this until it is resumed`);
  if (s.dryRun) return visible(`${e.governing?.key} is in dry-run mode: the daemon will not act on this while it is`);
  return undefined;
}

// ---------------------------------------------------------------------------------------------------
// status ns/name: one service in detail

export type ServiceDetailJson = {
  name: string;
  schedule: { name: string; timeZone: string; overruled: string[] } | null;
  scheduleNow: { state: string; reason: string; detail?: string } | null;
  annotations: {
    stop: string | null;
    state: { kind: "none" } | { kind: "ok"; record: Record<string, unknown> } | { kind: "invalid"; raw: string };
    keepRunningUntil: string | null;
    exclude: string | null;
  };
  conditions: { type: string; status: string; reason?: string; since?: string }[];
  deploymentMode: string;
  gpus: number;
  state: string;
  confirmed: boolean;
  decision: { action: string; desired: string; reason: string; skip?: string; wouldDo?: string; message: string; recheckAt?: string };
  traffic: { kind: "known"; rps: number } | { kind: "unknown"; why: string } | { kind: "notEvaluated"; why: string } | null;
  nextTransitions: { at: string; state: string; reason: string; detail?: string }[];
};

export function serviceDetailJson(e: Evaluation, isvc: InferenceService, trafficNote: string | undefined): ServiceDetailJson {
  const a = e.facts.annotations;
  const g = e.governing;
  const d = e.decision;
  return {
    name: e.key,
    schedule: g ? { name: g.key, timeZone: g.compiled.timeZone, overruled: e.overruled.map((o) => o.key) } : null,
    scheduleNow: e.moment ? stateJson(e.moment.now) : null,
    annotations: {
      stop: a[STOP] ?? null,
      state: e.record.kind === "ok" ? { kind: "ok", record: e.record.state } : e.record,
      keepRunningUntil: a[KEEP_RUNNING_UNTIL] ?? null,
      exclude: a[EXCLUDE] ?? null,
    },
    conditions: (isvc.status?.conditions ?? [])
      .filter((c) => c.type === "Ready" || c.type === "Stopped")
      .map((c) => ({
        type: c.type,
        status: c.status,
        ...(c.reason ? { reason: c.reason } : {}),
        ...(c.lastTransitionTime ? { since: c.lastTransitionTime } : {}),
      })),
    deploymentMode: e.mode,
    gpus: e.facts.gpus,
    state: d.observed,
    confirmed: d.confirmed,
    decision: {
      action: d.action,
      desired: d.desired,
      reason: d.reason,
      ...(d.skip ? { skip: d.skip } : {}),
      ...(d.wouldDo ? { wouldDo: d.wouldDo } : {}),
      message: d.message,
      ...(d.recheckAt !== undefined && Number.isFinite(d.recheckAt) ? { recheckAt: rfc3339(d.recheckAt) } : {}),
    },
    traffic: e.traffic ?? (g?.spec.idle ? { kind: "notEvaluated", why: trafficNote ?? "not queried" } : null),
    nextTransitions: e.upcoming.map((t) => ({ at: rfc3339(t.at), ...stateJson(t) })),
  };
}

function stateJson(s: { state: string; reason: string; detail?: string | undefined }): { state: string; reason: string; detail?: string } {
  return s.detail === undefined ? { state: s.state, reason: s.reason } : { state: s.state, reason: s.reason, detail: s.detail };
}

const ACTION_WORDS: Record<string, string> = { stop: "stop it", start: "start it", record: "record a person's start", none: "nothing" };

export function renderServiceDetail(e: Evaluation, isvc: InferenceService, now: number, trafficNote: string | undefined): string {
  const j = serviceDetailJson(e, isvc, trafficNote);
  const z = e.governing?.compiled;
  const lines: string[] = [];
  const row = (k: string, v: string) => lines.push(`${k.padEnd(20)}${v}`);
  lines.push(`InferenceService ${e.key}`);
  row("Schedule:", e.governing ? `${e.governing.key} (${e.governing.compiled.timeZone})` : "none: no valid ServingSchedule selects it");
  if (e.overruled.length > 0)
    row("", `also selected by ${e.overruled.map((o) => o.key).join(", ")} (ignored: the oldest schedule governs)`);
  if (e.moment)
    row("Schedule says:", `${e.moment.now.state} (${e.moment.now.reason}${e.moment.now.detail ? `: ${e.moment.now.detail}` : ""})`);
  const note = scheduleInactiveNote(e);
  if (note) row("", note);
  row("State:", `${j.state}${j.confirmed ? " (confirmed by KServe)" : " (not confirmed by KServe yet)"}`);
  row("Deployment mode:", j.deploymentMode);
  row("GPUs:", String(j.gpus));
  lines.push("Annotations:");
  const ann = (k: string, v: string) => lines.push(`  ${k.padEnd(34)}${v}`);
  ann(STOP, j.annotations.stop === null ? "-" : JSON.stringify(j.annotations.stop));
  const st = e.record;
  ann(STATE, st.kind === "none" ? "-" : st.kind === "invalid" ? `unreadable: ${st.raw}` : describeRecord(st.state, now));
  const keep = j.annotations.keepRunningUntil;
  if (keep === null) ann(KEEP_RUNNING_UNTIL, "-");
  else {
    // the daemon's own reading, so status never disagrees with what it decides
    const ms = parseRfc3339(keep);
    ann(
      KEEP_RUNNING_UNTIL,
      ms !== undefined
        ? `${keep} (${ms > now ? relative(ms, now) : `expired ${span(now - ms)} ago`})`
        : `${keep.slice(0, 64)} (not an RFC 3339 time: ignored)`,
    );
  }
  ann(EXCLUDE, j.annotations.exclude === null ? "-" : JSON.stringify(j.annotations.exclude));
  lines.push("Conditions:");
  if (j.conditions.length === 0) lines.push("  (none yet)");
  for (const c of j.conditions)
    lines.push(
      `  ${`${c.type}=${c.status}`.padEnd(16)}${c.reason ?? ""}${c.since ? `${c.reason ? "  " : ""}since ${c.since} (${relative(Date.parse(c.since), now)})` : ""}`,
    );
  const d = e.decision;
  lines.push("Daemon would now:");
  const action =
    d.action === "none" && d.wouldDo
      ? `nothing (${d.skip}; would ${ACTION_WORDS[d.wouldDo] ?? d.wouldDo})`
      : (ACTION_WORDS[d.action] ?? d.action);
  lines.push(`  ${action}: ${d.desired}, reason ${d.skip && d.skip !== d.reason && !d.wouldDo ? `${d.skip}` : d.reason}`);
  lines.push(`  ${d.message}`);
  if (d.recheckAt !== undefined && Number.isFinite(d.recheckAt)) lines.push(`  decides again at ${when(d.recheckAt, now, z)}`);
  if (j.traffic) {
    if (j.traffic.kind === "known") lines.push(`  traffic: ${j.traffic.rps} req/s over ${e.governing?.spec.idle?.after ?? "?"}`);
    else if (j.traffic.kind === "unknown") lines.push(`  traffic: unknown (${j.traffic.why})`);
    else lines.push(`  idle rule not evaluated: ${j.traffic.why}`);
  }
  if (e.governing) {
    lines.push(`Next transitions of ${e.governing.key}:`);
    if (e.upcoming.length === 0) lines.push("  (none ahead)");
    for (const t of e.upcoming)
      lines.push(
        `  ${formatLocal(e.governing.compiled, t.at)}  ${t.state.padEnd(7)}  ${t.reason}${t.detail ? `: ${t.detail}` : ""}  (${relative(t.at, now)})`,
      );
  }
  // annotation values, condition reasons, the state record and Prometheus' answers are anyone's text
  return `${lines.map(visible).join("\n")}\n`;
}

function describeRecord(
  r: { action: string; reason: string; schedule: string; at: string; until?: string | undefined },
  now: number,
): string {
  const at = Date.parse(r.at);
  return `${r.action} (${r.reason}) by ${r.schedule || "no schedule"} at ${r.at}${Number.isFinite(at) ? ` (${relative(at, now)})` : ""}${r.until ? `, until ${r.until}` : ""}`;
}

// ---------------------------------------------------------------------------------------------------
// status [-n ns | -A]: schedules and their services

export type ServiceRow = {
  name: string;
  state: string;
  reason: string;
  since: string | null;
  nextTransition: string | null;
  gpus: number | null;
  confirmed: boolean | null;
  message: string | null;
  /** Live annotations of the InferenceService (null when it no longer exists). */
  live: { stop: string | null; keepRunningUntil: string | null; exclude: string | null; state: string | null } | null;
};

export type ScheduleOverview = {
  name: string;
  timeZone: string | null;
  valid: boolean;
  problem: string | null;
  conditions: { type: string; status: string; reason?: string; message?: string }[];
  reported: boolean;
  running: number | null;
  stopped: number | null;
  gpusReclaimed: number | null;
  gpuHoursReclaimed: number | null;
  nextTransition: string | null;
  nextState: string | null;
  services: ServiceRow[];
};

export type StatusOverviewJson = { schedules: ScheduleOverview[]; notSelected: string[] };

/** From the schedules' status (written by the daemon) and the live InferenceServices. */
export function overview(entries: readonly ScheduleEntry[], services: readonly InferenceService[], now: number): StatusOverviewJson {
  const byKey = new Map(services.map((s) => [`${s.metadata.namespace}/${s.metadata.name}`, s]));
  const governedBy = new Map<string, string[]>();
  const notSelected: string[] = [];
  for (const s of services) {
    const { governing } = governingOf(entries, s);
    const k = `${s.metadata.namespace}/${s.metadata.name}`;
    if (!governing) notSelected.push(k);
    else governedBy.set(governing.key, [...(governedBy.get(governing.key) ?? []), s.metadata.name]);
  }
  const schedules = [...entries]
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map((e): ScheduleOverview => {
      const status = (e.obj.status ?? undefined) as ServingScheduleStatus | undefined;
      const reported = status?.services !== undefined || status?.conditions !== undefined;
      const ns = e.obj.metadata.namespace;
      const live = (name: string): ServiceRow["live"] => {
        const s = byKey.get(`${ns}/${name}`);
        if (!s) return null;
        const a = s.metadata.annotations ?? {};
        return {
          stop: a[STOP] ?? null,
          keepRunningUntil: a[KEEP_RUNNING_UNTIL] ?? null,
          exclude: a[EXCLUDE] ?? null,
          state: a[STATE] ?? null,
        };
      };
      let rows: ServiceRow[];
      if (reported) {
        rows = (status?.services ?? []).map((r: ServiceStatus) => ({
          name: r.name,
          state: r.state,
          reason: r.reason,
          since: r.since ?? null,
          nextTransition: r.nextTransition ?? null,
          gpus: r.gpus,
          confirmed: r.confirmed,
          message: r.message ?? null,
          live: live(r.name),
        }));
      } else {
        // no status yet (daemon not running?): the services the schedule governs, as the cluster shows them
        rows = (governedBy.get(e.key) ?? []).sort().map((name) => {
          const s = byKey.get(`${ns}/${name}`);
          return {
            name,
            state: isStopSet(s?.metadata.annotations) ? "Stopped" : "Running",
            reason: "-",
            since: null,
            nextTransition: null,
            gpus: s ? gpusOf(s) : null,
            confirmed: null,
            message: null,
            live: live(name),
          };
        });
      }
      const next = e.ok ? nextTransition(e.compiled, now) : undefined;
      return {
        name: e.key,
        timeZone: e.ok ? e.compiled.timeZone : null,
        valid: e.ok,
        problem: e.ok ? null : e.message,
        conditions: (status?.conditions ?? []).map((c) => ({
          type: c.type,
          status: c.status,
          ...(c.reason ? { reason: c.reason } : {}),
          ...(c.message ? { message: c.message } : {}),
        })),
        reported,
        running: status?.running ?? null,
        stopped: status?.stopped ?? null,
        gpusReclaimed: status?.gpusReclaimed ?? null,
        gpuHoursReclaimed: status?.gpuHoursReclaimed ?? null,
        nextTransition: next ? rfc3339(next.at) : (status?.nextTransition ?? null),
        nextState: next ? next.state : (status?.nextState ?? null),
        services: rows,
      };
    });
  return { schedules, notSelected: notSelected.sort() };
}

export function renderOverview(o: StatusOverviewJson, entries: readonly ScheduleEntry[], now: number): string {
  const zones = new Map(entries.filter((e): e is ValidEntry => e.ok).map((e) => [e.key, e.compiled]));
  const blocks: string[] = [];
  for (const s of o.schedules) {
    const lines: string[] = [];
    const ready = s.conditions.find((c) => c.type === "Ready");
    const head = [`${s.name}${s.timeZone ? ` (${s.timeZone})` : ""}`];
    if (!s.valid) head.push(`INVALID: ${s.problem}`);
    else if (!s.reported) head.push("no status yet: is the daemon running and watching this namespace?");
    else if (ready)
      head.push(`Ready=${ready.status}${ready.status !== "True" && ready.message ? ` (${ready.reason}: ${ready.message})` : ""}`);
    lines.push(head.join("  "));
    const metrics = s.conditions.find((c) => c.type === "MetricsAvailable");
    if (metrics && metrics.status !== "True")
      lines.push(`  MetricsAvailable=${metrics.status}: ${metrics.message ?? metrics.reason ?? ""}`);
    if (s.nextTransition && s.nextState) {
      const ms = Date.parse(s.nextTransition);
      lines.push(`  next: ${s.nextState} at ${when(ms, now, zones.get(s.name))}`);
    }
    if (s.reported)
      lines.push(
        `  ${s.running ?? 0} running, ${s.stopped ?? 0} stopped, ${s.gpusReclaimed ?? 0} GPUs reclaimed now, ${s.gpuHoursReclaimed ?? 0} GPU-hours reclaimed`,
      );
    if (s.services.length === 0) lines.push("  (no InferenceService)");
    else {
      const table = [["SERVICE", "STATE", "REASON", "SINCE", "NEXT", "GPUS", "CONFIRMED", "ANNOTATIONS"]];
      for (const r of s.services) {
        table.push([
          r.name,
          r.state,
          r.reason,
          r.since ? span(now - Date.parse(r.since)) : "-",
          r.nextTransition ? relative(Date.parse(r.nextTransition), now).replace(/^in /, "") : "-",
          r.gpus === null ? "-" : String(r.gpus),
          r.confirmed === null ? "-" : r.confirmed ? "yes" : "no",
          liveText(r.live, now),
        ]);
      }
      // escaped before the widths are measured, so the columns line up as printed
      lines.push(...columns(table.map((r) => r.map(visible))).map((l) => `  ${l}`));
    }
    // names, condition messages and records in .status are written by whoever may write the status
    blocks.push(lines.map(visible).join("\n"));
  }
  if (o.schedules.length === 0) blocks.push("no ServingSchedule found");
  if (o.notSelected.length > 0)
    blocks.push(
      `Not selected by any valid ServingSchedule (the daemon leaves them alone):\n${o.notSelected.map((n) => `  ${visible(n)}`).join("\n")}`,
    );
  return `${blocks.join("\n\n")}\n`;
}

function liveText(live: ServiceRow["live"], now: number): string {
  if (live === null) return "(deleted)";
  const parts: string[] = [];
  if (live.exclude?.toLowerCase() === "true") parts.push("excluded");
  if (live.keepRunningUntil !== null) {
    const ms = parseRfc3339(live.keepRunningUntil);
    if (ms !== undefined && ms > now) parts.push(`keep-running ${span(ms - now)}`);
  }
  if (live.stop !== null && live.state === null && live.stop.toLowerCase() === "true") parts.push("stopped by a person");
  return parts.length === 0 ? "-" : parts.join(", ");
}

/** Left-aligned columns, two spaces apart; the last column is not padded. */
export function columns(rows: readonly string[][]): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd(),
  );
}
