// Durations in the API are Go-style ("90s", "15m", "1h30m"), as platform engineers write them in
// every other Kubernetes manifest.
const DURATION = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;

/** Milliseconds in a duration string; NaN when it is not one. */
export function parseDuration(text: string): number {
  const m = DURATION.exec(text);
  if (!m || text.length === 0) return Number.NaN;
  const [, h = "0", min = "0", s = "0"] = m;
  return ((Number(h) * 60 + Number(min)) * 60 + Number(s)) * 1000;
}

export function formatDuration(ms: number): string {
  const total = Math.round(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const out = `${h ? `${h}h` : ""}${m ? `${m}m` : ""}${s ? `${s}s` : ""}`;
  return out || "0s";
}
