// Durations in the API are Go-style ("90s", "15m", "1h30m"), as platform engineers write them in
// every other Kubernetes manifest.
const DURATION = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;

/** Longer texts are not durations anyone means; it also keeps the digits far from float overflow. */
const MAX_DURATION_TEXT = 32;

/** Milliseconds in a duration string; NaN when it is not one. */
export function parseDuration(text: string): number {
  if (text.length === 0 || text.length > MAX_DURATION_TEXT) return Number.NaN;
  const m = DURATION.exec(text);
  if (!m) return Number.NaN;
  const [, h = "0", min = "0", s = "0"] = m;
  const ms = ((Number(h) * 60 + Number(min)) * 60 + Number(s)) * 1000;
  return Number.isSafeInteger(ms) ? ms : Number.NaN;
}

/** The inclusive range a duration setting accepts, in milliseconds. */
export type DurationBounds = { min: number; max: number };

export type BoundedDuration = { ok: true; ms: number } | { ok: false; message: string };

/**
 * A duration checked against its setting's bounds, with the message a person reads:
 * `--idle-interval: must be between 1s and 1h, got 600h`. `what` names the setting as the user
 * wrote it (a flag, an environment variable, a field path).
 */
export function parseBoundedDuration(what: string, text: string, bounds: DurationBounds): BoundedDuration {
  const ms = parseDuration(text);
  const range = `between ${formatDuration(bounds.min)} and ${formatDuration(bounds.max)}`;
  const wellFormed = text.length > 0 && text.length <= MAX_DURATION_TEXT && DURATION.test(text);
  if (!wellFormed) return { ok: false, message: `${what}: must be a duration such as 15s, 2m or 1h30m ${range}, got ${quoteShort(text)}` };
  // Zero is a well-formed duration but never a usable interval: say the rule, not only the range.
  if (ms === 0) return { ok: false, message: `${what}: must be positive (${range}), got ${text}` };
  // Too many digits to count in milliseconds is simply too long.
  if (!Number.isFinite(ms) || ms < bounds.min || ms > bounds.max) return { ok: false, message: `${what}: must be ${range}, got ${text}` };
  return { ok: true, ms };
}

/**
 * The longest delay setTimeout honours (2^31-1 ms, about 24.8 days); a longer one fires after
 * 1 ms. Every timer in the daemon is clamped to it and re-armed.
 */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

/** "1h30m" from 5,400,000 ms (whole seconds; "0s" for zero). */
export function formatDuration(ms: number): string {
  const total = Math.round(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const out = `${h ? `${h}h` : ""}${m ? `${m}m` : ""}${s ? `${s}s` : ""}`;
  return out || "0s";
}

/** A user's text in a message, cut so a pasted novel does not become one. */
function quoteShort(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
}
