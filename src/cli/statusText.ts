// `status` for people: one service in detail, and every schedule as a table of its services. Both
// print from the same data as `--output json` (statusJson.ts), so the two views never disagree.
// Every line goes through visible(): names, annotation values, condition reasons, the state record
// and Prometheus' answers are anyone's text. No I/O and no clock: `now` is an argument.
import { EXCLUDE, KEEP_RUNNING_UNTIL, parseRfc3339, STATE, STOP } from "../api/annotations.ts";
import type { CompiledEntry, ValidSchedule } from "../decide/schedules.ts";
import { formatLocal } from "../plan/plan.ts";
import type { InferenceService } from "../sources/kube/inferenceService.ts";
import { type Evaluation, scheduleLabel } from "./decision.ts";
import { type ServiceRow, type StatusOverviewJson, serviceDetailJson } from "./statusJson.ts";
import { relative, span, when } from "./times.ts";
import { visible } from "../report/visible.ts";

/** A schedule the daemon will not act on, which a person reading the service's state must know. */
export function scheduleInactiveNote(e: Evaluation): string | undefined {
  const s = e.governing?.spec;
  if (!s) return undefined;
  const name = scheduleLabel(e.governing?.key ?? "");
  if (s.suspend) return visible(`${name} is suspended: the daemon will not act on this until it is resumed`);
  if (s.dryRun) return visible(`${name} is in dry-run mode: the daemon will not act on this while it is`);
  return undefined;
}

const ACTION_WORDS: Record<string, string> = { stop: "stop it", start: "start it", record: "record a person's start", none: "nothing" };

export function renderServiceDetail(e: Evaluation, isvc: InferenceService, now: number, trafficNote: string | undefined): string {
  const j = serviceDetailJson(e, isvc, trafficNote);
  const z = e.governing?.compiled;
  const lines: string[] = [];
  const row = (k: string, v: string) => lines.push(`${k.padEnd(20)}${v}`);
  lines.push(`InferenceService ${e.key}`);
  row("Schedule:", j.schedule ? `${j.schedule.name} (${j.schedule.timeZone})` : "none: no valid ServingSchedule selects it");
  if (j.schedule && j.schedule.overruled.length > 0)
    row("", `also selected by ${j.schedule.overruled.join(", ")} (ignored: the oldest schedule governs)`);
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
    lines.push(`Next transitions of ${scheduleLabel(e.governing.key)}:`);
    if (e.upcoming.length === 0) lines.push("  (none ahead)");
    for (const t of e.upcoming)
      lines.push(
        `  ${formatLocal(e.governing.compiled, t.at)}  ${t.state.padEnd(7)}  ${t.reason}${t.detail ? `: ${t.detail}` : ""}  (${relative(t.at, now)})`,
      );
  }
  return `${lines.map(visible).join("\n")}\n`;
}

function describeRecord(
  r: { action: string; reason: string; schedule: string; at: string; until?: string | undefined },
  now: number,
): string {
  const at = Date.parse(r.at);
  return `${r.action} (${r.reason}) by ${r.schedule || "no schedule"} at ${r.at}${Number.isFinite(at) ? ` (${relative(at, now)})` : ""}${r.until ? `, until ${r.until}` : ""}`;
}

export function renderOverview(o: StatusOverviewJson, entries: readonly CompiledEntry[], now: number): string {
  const zones = new Map(entries.filter((e): e is ValidSchedule => e.ok).map((e) => [scheduleLabel(e.key), e.compiled]));
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
