// JSON lines on stderr, one object per event, so `kubectl logs | jq` and log shippers read them as is.
import { writeSync } from "node:fs";

export type Level = "debug" | "info" | "warn" | "error";
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type Logger = {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  with(fields: Record<string, unknown>): Logger;
};

// Fields that hold credentials whatever their value, and user:password@ inside any URL: a log line
// is read by more people than the Secret it came from.
const SECRET_KEY = /token|password|secret|authorization|cookie/i;
const URL_CREDENTIALS = /(\b[a-z][a-z0-9+.-]*:\/\/)[^\s/@]+@/gi;

/** An Error as JSON: its message and code, and its causes (undici's "fetch failed" says why only there). */
function errorFields(e: Error, depth = 0): Record<string, unknown> {
  const code = (e as { code?: unknown }).code;
  const cause = e.cause;
  return {
    name: e.name,
    message: e.message,
    ...(typeof code === "string" ? { code } : {}),
    ...(cause === undefined || depth >= 4 ? {} : { cause: cause instanceof Error ? errorFields(cause, depth + 1) : String(cause) }),
  };
}

/**
 * Lines gathered within one turn of the event loop and written together at the next: at a
 * boundary the daemon logs a line per stopped service, and stderr to a pipe (a container's) is a
 * synchronous write per call, one syscall each, which took an eighth of the daemon's CPU in a
 * 1,000-service flip. Nothing is lost on a normal exit or a crash: what is pending is written
 * synchronously on 'exit'; a SIGKILL loses at most the current turn's lines.
 */
export type BatchedWriter = {
  write(line: string): void;
  /** Hands what is pending to `out` now (exit handlers, where nothing scheduled runs any more). */
  flush(out: (text: string) => void): void;
};

export function batchedWriter(out: (text: string) => void, schedule: (flush: () => void) => void = setImmediate): BatchedWriter {
  let pending: string[] = [];
  const flush = (to: (text: string) => void) => {
    if (pending.length === 0) return;
    const text = pending.join("");
    pending = [];
    to(text);
  };
  return {
    write(line) {
      if (pending.length === 0) schedule(() => flush(out));
      pending.push(line);
    },
    flush,
  };
}

let stderrLines: BatchedWriter | undefined;
function defaultWriter(): (line: string) => void {
  if (stderrLines === undefined) {
    const lines = batchedWriter((text) => process.stderr.write(text));
    process.on("exit", () => lines.flush((text) => writeSync(2, text)));
    stderrLines = lines;
  }
  const lines = stderrLines;
  return (line) => lines.write(line);
}

export function createLogger(level: Level, write: (line: string) => void = defaultWriter(), base: Record<string, unknown> = {}): Logger {
  const min = ORDER[level];
  const emit = (lvl: Level, msg: string, fields?: Record<string, unknown>) => {
    if (ORDER[lvl] < min) return;
    const entry: Record<string, unknown> = { time: new Date().toISOString(), level: lvl, msg, ...base, ...fields };
    for (const [k, v] of Object.entries(entry)) {
      if (SECRET_KEY.test(k) && v !== undefined) entry[k] = "<redacted>";
      else if (v instanceof Error) entry[k] = errorFields(v);
      else if (typeof v === "string") entry[k] = v.replace(URL_CREDENTIALS, "$1<redacted>@");
    }
    write(`${JSON.stringify(entry)}\n`);
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    with: (fields) => createLogger(level, write, { ...base, ...fields }),
  };
}
