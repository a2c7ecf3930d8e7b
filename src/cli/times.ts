// How the CLI writes instants and spans of time for people: RFC 3339 for copying back into an
// annotation, the schedule's own zone for reading, and "in 2h" / "5m ago" against the command's clock.
import { formatLocal } from "../plan/plan.ts";
import type { CompiledSchedule } from "../schedule/index.ts";

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
