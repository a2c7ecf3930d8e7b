// The demo's screen, as pure functions of a Snapshot: `renderFrame` for a terminal (redrawn every
// second with plain ANSI escapes), `changeLines` for a log (one line per change, when stdout is not a
// terminal), `formatDaemonLine` for the daemon's JSON log lines. No I/O and no clock here.

export type ServiceRow = {
  /** namespace/name */
  key: string;
  schedule: string | undefined;
  /** Running / Stopped as the daemon reports it (else as the stop annotation says). */
  state: string;
  /** The daemon's reason (Schedule, Idle, Excluded, ...); "-" before its first status write. */
  reason: string;
  /** The InferenceService's Ready condition. */
  ready: string;
  /** GPUs the service asks for, and GPUs its pods hold right now. */
  gpus: number;
  gpusInUse: number;
  /** When it entered its state (daemon status). */
  since: number | undefined;
  /** The next change the schedule has for it. */
  next: { at: number; state: string } | undefined;
  /** Extra line: traffic, idle countdown, hands-off. */
  note: string;
};

export type Snapshot = {
  now: number;
  rows: ServiceRow[];
  gpuCapacity: number;
  gpusInUse: number;
  gpusReclaimed: number;
  gpuHoursReclaimed: number;
  /** Formatted daemon log lines, oldest first. */
  events: string[];
};

export type FrameContext = {
  title: string;
  subtitle: string;
  startedAt: number;
  endsAt: number | undefined;
  color: boolean;
  width: number;
};

const ESC = "\x1b[";
const paint = (on: boolean, code: string, s: string) => (on ? `${ESC}${code}m${s}${ESC}0m` : s);

/** "1:05", "0:07", "-" */
export function countdown(ms: number): string {
  if (!Number.isFinite(ms)) return "-";
  const s = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${sec}` : `${m}:${sec}`;
}

/** "HH:MM:SS" UTC */
export function clock(ms: number): string {
  return new Date(ms).toISOString().slice(11, 19);
}

/** Length on screen of a string with ANSI colour codes. */
function screenLength(s: string): number {
  return s.replace(/\x1b\[[0-9;]*m/g, "").length;
}

function pad(s: string, n: number): string {
  const v = screenLength(s);
  return v >= n ? s : s + " ".repeat(n - v);
}

/** Cuts a line with ANSI codes to `width` visible characters. */
export function truncate(s: string, width: number): string {
  if (screenLength(s) <= width) return s;
  let out = "";
  let n = 0;
  for (let i = 0; i < s.length && n < width - 1; ) {
    const m = /^\x1b\[[0-9;]*m/.exec(s.slice(i));
    if (m) {
      out += m[0];
      i += m[0].length;
      continue;
    }
    out += s[i];
    i += 1;
    n += 1;
  }
  return `${out}…${s.includes(ESC) ? `${ESC}0m` : ""}`;
}

function stateColour(row: ServiceRow, color: boolean): string {
  if (row.state === "Running") return paint(color, "32", row.state);
  if (row.state === "Stopped") return paint(color, "33", row.state);
  return row.state;
}

function nextText(row: ServiceRow, now: number): string {
  if (!row.next) return "-";
  return `${row.next.state} at ${clock(row.next.at)} (${countdown(row.next.at - now)})`;
}

/** GPU bar: █ in use, ▒ reclaimed by the daemon, · free. */
export function gpuBar(s: Pick<Snapshot, "gpuCapacity" | "gpusInUse" | "gpusReclaimed">, color: boolean): string {
  const used = Math.min(s.gpusInUse, s.gpuCapacity);
  const reclaimed = Math.min(s.gpusReclaimed, Math.max(0, s.gpuCapacity - used));
  const free = Math.max(0, s.gpuCapacity - used - reclaimed);
  return `[${paint(color, "32", "█".repeat(used))}${paint(color, "33", "▒".repeat(reclaimed))}${paint(color, "2", "·".repeat(free))}]`;
}

/** The whole screen, one string per line. */
export function renderFrame(s: Snapshot, ctx: FrameContext): string[] {
  const c = ctx.color;
  const bold = (x: string) => paint(c, "1", x);
  const dim = (x: string) => paint(c, "2", x);
  const lines: string[] = [];
  const elapsed = countdown(s.now - ctx.startedAt);
  const ends = ctx.endsAt !== undefined ? ` · exits in ${countdown(ctx.endsAt - s.now)}` : " · Ctrl-C stops and cleans up";
  lines.push(`${bold(ctx.title)}  ${dim(`${clock(s.now)} UTC · running ${elapsed}${ends}`)}`);
  lines.push(dim(ctx.subtitle));
  lines.push("");
  const cols = [16, 13, 8, 10, 6, 5, 9, 0];
  const header = ["SERVICE", "SCHEDULE", "STATE", "REASON", "READY", "GPUS", "SINCE", "NEXT TRANSITION"];
  lines.push(bold(header.map((h, i) => pad(h, cols[i] ?? 0)).join(" ")));
  for (const row of s.rows) {
    const gpus = row.gpusInUse === row.gpus ? String(row.gpus) : `${row.gpusInUse}/${row.gpus}`;
    const cells = [
      row.key,
      row.schedule ?? "-",
      stateColour(row, c),
      row.reason,
      row.ready === "True" ? paint(c, "32", "True") : row.ready === "False" ? paint(c, "33", "False") : row.ready,
      gpus,
      row.since !== undefined ? clock(row.since) : "-",
      nextText(row, s.now),
    ];
    lines.push(cells.map((x, i) => pad(x, cols[i] ?? 0)).join(" "));
    if (row.note) lines.push(dim(`${" ".repeat(2)}↳ ${row.note}`));
  }
  lines.push("");
  lines.push(
    `${bold("GPUs")}  ${gpuBar(s, c)}  ${paint(c, "32", `${s.gpusInUse} in use`)} · ${paint(c, "33", `${s.gpusReclaimed} reclaimed`)} · ${Math.max(0, s.gpuCapacity - s.gpusInUse - s.gpusReclaimed)} free of ${s.gpuCapacity}`,
  );
  lines.push(
    `${bold("GPU-hours reclaimed so far")}  ${s.gpuHoursReclaimed.toFixed(4)}  ${dim(`(= ${(s.gpuHoursReclaimed * 60).toFixed(1)} GPU-minutes)`)}`,
  );
  lines.push("");
  lines.push(bold("Daemon (last events)"));
  const events = s.events.slice(-8);
  for (const e of events) lines.push(`  ${e}`);
  for (let i = events.length; i < 8; i += 1) lines.push("");
  return lines.map((l) => truncate(l, ctx.width));
}

/** One line per change between two snapshots (the non-terminal output). */
export function changeLines(prev: Snapshot | undefined, next: Snapshot, startedAt: number): string[] {
  const stamp = `[${clock(next.now)} +${countdown(next.now - startedAt)}]`;
  const out: string[] = [];
  const before = new Map((prev?.rows ?? []).map((r) => [r.key, r]));
  for (const row of next.rows) {
    const old = before.get(row.key);
    const same = old && old.state === row.state && old.reason === row.reason && old.ready === row.ready && old.gpusInUse === row.gpusInUse;
    if (same) continue;
    const nextPart = row.next ? ` next ${row.next.state} at ${clock(row.next.at)}` : "";
    out.push(
      `${stamp} ${row.key}: ${old && old.state !== row.state ? `${old.state} -> ` : ""}${row.state} reason=${row.reason} ready=${row.ready} gpus=${row.gpusInUse}/${row.gpus}${nextPart}`,
    );
  }
  for (const key of before.keys()) {
    if (!next.rows.some((r) => r.key === key)) out.push(`${stamp} ${key}: gone`);
  }
  if (!prev || prev.gpusInUse !== next.gpusInUse || prev.gpusReclaimed !== next.gpusReclaimed || prev.gpuCapacity !== next.gpuCapacity) {
    out.push(
      `${stamp} GPUs: ${next.gpusInUse} in use, ${next.gpusReclaimed} reclaimed, ${Math.max(0, next.gpuCapacity - next.gpusInUse - next.gpusReclaimed)} free of ${next.gpuCapacity}; GPU-hours reclaimed ${next.gpuHoursReclaimed.toFixed(4)}`,
    );
  }
  return out;
}

const SKIP_FIELDS = new Set(["time", "level", "msg"]);

/** A daemon JSON log line as "HH:MM:SS msg key=value ...", or the raw text when it is not JSON. */
export function formatDaemonLine(line: string): { text: string; level: string; msg: string; fields: Record<string, unknown> } | undefined {
  const trimmed = line.trim();
  if (trimmed === "") return undefined;
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(trimmed) as Record<string, unknown>;
    if (typeof entry !== "object" || entry === null) throw new Error("not an object");
  } catch {
    return { text: trimmed, level: "raw", msg: trimmed, fields: {} };
  }
  const time = typeof entry["time"] === "string" ? entry["time"].slice(11, 19) : "--:--:--";
  const level = typeof entry["level"] === "string" ? entry["level"] : "info";
  const msg = typeof entry["msg"] === "string" ? entry["msg"] : "";
  const fields = Object.fromEntries(Object.entries(entry).filter(([k]) => !SKIP_FIELDS.has(k)));
  const kv = Object.entries(fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join(" ");
  const lvl = level === "info" ? "" : `${level.toUpperCase()} `;
  return { text: `${time} ${lvl}${msg}${kv ? ` ${kv}` : ""}`, level, msg, fields };
}
