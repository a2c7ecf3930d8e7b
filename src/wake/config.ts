// Configuration of `kserve-reclaimer waker`: every flag also reads RECLAIMER_<FLAG> from the
// environment (flags win), as `run` does. Every number and size has bounds; everything is checked
// once at start-up and every problem listed before exiting.
import { BlockList, isIP } from "node:net";
import { parseBoundedDuration } from "../schedule/index.ts";
import { envName, type FlagTable, parseFlags } from "../config/flags.ts";
import { type ListenAddress, parseListenAddress } from "../config/listen.ts";
import { templateProblems } from "./upstream.ts";

export const WAKER_FLAGS = {
  listen: {
    type: "string",
    value: "ADDR",
    defaultText: ":8081",
    description: "listen address for client requests (what the wake routes send); not :8080, the daemon's default",
  },
  "daemon-url": {
    type: "string",
    value: "URL",
    description: "base URL of the daemon's wake API, e.g. http://kserve-reclaimer-metrics.kserve-reclaimer.svc:8080 (required)",
  },
  "token-file": {
    type: "string",
    value: "FILE",
    defaultText: "/var/run/secrets/kubernetes.io/serviceaccount/token",
    description: "the waker's ServiceAccount token, sent to the daemon (re-read when it changes)",
  },
  "upstream-template": {
    type: "string",
    value: "URL",
    defaultText: "http://{name}-predictor.{namespace}.svc.cluster.local",
    description: "where a Ready service's requests go; {name} and {namespace} are filled in, the client's path appended",
  },
  "metrics-addr": {
    type: "string",
    value: "ADDR",
    defaultText: "127.0.0.1:8082",
    description:
      "listen address of /metrics, /healthz and /readyz; loopback by default, the manifests set :9090 for the kubelet and Prometheus",
  },
  "trusted-proxies": {
    type: "string",
    value: "CIDRS",
    defaultText: "none",
    description:
      "comma-separated CIDRs of the proxies in front (the gateway's pods): their X-Forwarded-*, Forwarded and X-Real-IP are kept; every other client's are replaced",
  },
  "max-held-requests": {
    type: "string",
    value: "N",
    defaultText: "1000",
    description: "requests held at once across all services (1-100000); more are answered 503",
  },
  "max-held-bytes": {
    type: "string",
    value: "SIZE",
    defaultText: "64Mi",
    description: "bytes of held requests kept in memory at once (64Ki-16Gi); more are answered 503",
  },
  "max-body-bytes": {
    type: "string",
    value: "SIZE",
    defaultText: "8Mi",
    description: "largest request body held (1Ki-1Gi, at most --max-held-bytes); larger are answered 413",
  },
  "hold-timeout": {
    type: "string",
    value: "DURATION",
    defaultText: "5m",
    description: "how long a request is held while the daemon has not answered for its host (10s-30m)",
  },
  "body-idle-timeout": {
    type: "string",
    value: "DURATION",
    defaultText: "10s",
    description: "a held request's upload that sends no byte for this long is answered 408 and closed (1s-5m)",
  },
  "body-timeout": {
    type: "string",
    value: "DURATION",
    defaultText: "60s",
    description: "a held request's whole body must arrive within this (5s-30m); slower uploads are answered 408 and closed",
  },
  "log-level": { type: "string", value: "LEVEL", defaultText: "info", description: "debug, info, warn or error" },
} as const satisfies FlagTable;

export const WAKER_BOUNDS = {
  maxHeldRequests: { min: 1, max: 100_000 },
  maxHeldBytes: { min: 64 * 1024, max: 16 * 1024 ** 3 },
  maxBodyBytes: { min: 1024, max: 1024 ** 3 },
  holdTimeout: { min: 10_000, max: 30 * 60_000 },
  bodyIdleTimeout: { min: 1_000, max: 5 * 60_000 },
  bodyTimeout: { min: 5_000, max: 30 * 60_000 },
  trustedProxies: { max: 64 },
} as const;

export type WakerConfig = {
  listen: { host: string; port: number };
  daemonUrl: string;
  tokenFile: string;
  upstreamTemplate: string;
  metricsAddr: { host: string; port: number };
  maxHeldRequests: number;
  maxHeldBytes: number;
  maxBodyBytes: number;
  holdTimeoutMs: number;
  bodyIdleTimeoutMs: number;
  bodyTimeoutMs: number;
  /** CIDRs, as given (e.g. 10.0.0.0/8, fd00::/8); empty: no client's forwarding headers are trusted. */
  trustedProxies: string[];
  logLevel: "debug" | "info" | "warn" | "error";
};

export class WakerConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid configuration:\n  ${problems.join("\n  ")}`);
    this.name = "WakerConfigError";
    this.problems = problems;
  }
}

const UNITS: Record<string, number> = { "": 1, k: 1e3, M: 1e6, G: 1e9, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3 };

/** A byte size as Kubernetes writes quantities: 8Mi, 64Mi, 512Ki, 1G, 1048576. NaN when it is not one. */
export function parseSize(text: string): number {
  if (text.length > 24) return Number.NaN;
  const m = /^(\d+)(|k|M|G|Ki|Mi|Gi)$/.exec(text.trim());
  if (m === null) return Number.NaN;
  const n = Number(m[1]) * (UNITS[m[2] as string] as number);
  return Number.isSafeInteger(n) ? n : Number.NaN;
}

function quote(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
}

function listenAddr(what: string, s: string, problems: string[]): ListenAddress {
  const address = parseListenAddress(s);
  if (typeof address !== "string") return address;
  problems.push(`${what}: ${address}`);
  return { host: "", port: 0 };
}

/** A comma-separated list of CIDRs (a bare address is one host); every bad entry is one problem. */
function cidrList(what: string, text: string, problems: string[]): string[] {
  const entries = text
    .split(",")
    .map((x) => x.trim())
    .filter((x) => x !== "" && x !== "none");
  if (entries.length > WAKER_BOUNDS.trustedProxies.max) {
    problems.push(`${what}: at most ${WAKER_BOUNDS.trustedProxies.max} CIDRs, got ${entries.length}`);
    return [];
  }
  const out: string[] = [];
  for (const entry of entries) {
    const m = /^([0-9a-fA-F:.]+)(?:\/(\d{1,3}))?$/.exec(entry);
    const family = m === null ? 0 : isIP(m[1] as string);
    const bits = m?.[2] === undefined ? (family === 6 ? 128 : 32) : Number(m[2]);
    if (m === null || family === 0 || bits > (family === 6 ? 128 : 32)) {
      problems.push(`${what}: ${quote(entry)} is not a CIDR such as 10.0.0.0/8 or fd00::/8`);
      continue;
    }
    out.push(`${m[1]}/${bits}`);
  }
  return out;
}

/** The CIDRs as a BlockList (node:net's matcher), or undefined when none is trusted. */
export function trustedProxyList(cidrs: string[]): BlockList | undefined {
  if (cidrs.length === 0) return undefined;
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [address, bits] = cidr.split("/") as [string, string];
    list.addSubnet(address, Number(bits), isIP(address) === 6 ? "ipv6" : "ipv4");
  }
  return list;
}

/** Flags first, then RECLAIMER_* environment variables, then defaults. Throws WakerConfigError listing every problem. */
export function loadWakerConfig(args: string[], env: NodeJS.ProcessEnv): WakerConfig {
  const parsed = parseFlags(args, WAKER_FLAGS, { spacedBooleans: true });
  const problems = [...parsed.problems, ...parsed.positionals.map((p) => `unexpected argument ${quote(p)}: waker takes only flags`)];
  const values = parsed.values as Record<string, string | undefined>;
  const fromEnv = new Set<string>();
  const raw = (flag: keyof typeof WAKER_FLAGS, fallback: string): string => {
    const v = values[flag];
    if (v !== undefined) return v;
    const e = env[envName(flag)];
    if (e !== undefined && e !== "") {
      fromEnv.add(flag);
      return e;
    }
    return fallback;
  };
  const label = (flag: string) => (fromEnv.has(flag) ? envName(flag) : `--${flag}`);

  const listen = listenAddr(label("listen"), raw("listen", ":8081"), problems);
  const metricsAddr = listenAddr(label("metrics-addr"), raw("metrics-addr", "127.0.0.1:8082"), problems);

  const daemonUrl = raw("daemon-url", "");
  if (daemonUrl === "") problems.push(`--daemon-url is required (or ${envName("daemon-url")})`);
  else {
    let url: URL | undefined;
    try {
      url = new URL(daemonUrl);
    } catch {
      problems.push(`${label("daemon-url")}: ${quote(daemonUrl)} is not a URL`);
    }
    if (url !== undefined && url.protocol !== "http:" && url.protocol !== "https:")
      problems.push(`${label("daemon-url")}: must be an http:// or https:// URL`);
    if (url !== undefined && (url.username !== "" || url.password !== ""))
      problems.push(`${label("daemon-url")}: must not hold a user name or password (the token file authenticates)`);
  }

  const tokenFile = raw("token-file", "/var/run/secrets/kubernetes.io/serviceaccount/token");
  const upstreamTemplate = raw("upstream-template", "http://{name}-predictor.{namespace}.svc.cluster.local");
  for (const p of templateProblems(upstreamTemplate)) problems.push(`${label("upstream-template")}: ${p}`);

  const count = (flag: "max-held-requests", fallback: string, b: { min: number; max: number }): number => {
    const text = raw(flag, fallback);
    const n = Number(text);
    if (!/^\d{1,9}$/.test(text.trim()) || n < b.min || n > b.max) {
      problems.push(`${label(flag)}: must be a whole number between ${b.min} and ${b.max}, got ${quote(text)}`);
      return b.min;
    }
    return n;
  };
  const size = (flag: "max-held-bytes" | "max-body-bytes", fallback: string, b: { min: number; max: number }, range: string): number => {
    const text = raw(flag, fallback);
    const n = parseSize(text);
    if (!Number.isFinite(n)) problems.push(`${label(flag)}: must be a size such as 512Ki, 8Mi or 1Gi (${range}), got ${quote(text)}`);
    else if (n < b.min || n > b.max) problems.push(`${label(flag)}: must be between ${range}, got ${quote(text)}`);
    else return n;
    return Number.NaN;
  };
  const maxHeldRequests = count("max-held-requests", "1000", WAKER_BOUNDS.maxHeldRequests);
  const maxHeldBytes = size("max-held-bytes", "64Mi", WAKER_BOUNDS.maxHeldBytes, "64Ki and 16Gi");
  const maxBodyBytes = size("max-body-bytes", "8Mi", WAKER_BOUNDS.maxBodyBytes, "1Ki and 1Gi");
  // NaN (already reported) compares false: one mistake is one problem
  if (maxBodyBytes > maxHeldBytes) problems.push(`${label("max-body-bytes")} must be at most ${label("max-held-bytes")}`);

  const holdText = raw("hold-timeout", "5m");
  const hold = parseBoundedDuration(label("hold-timeout"), holdText.trim(), WAKER_BOUNDS.holdTimeout);
  if (!hold.ok) problems.push(hold.message);

  const bodyIdle = parseBoundedDuration(label("body-idle-timeout"), raw("body-idle-timeout", "10s").trim(), WAKER_BOUNDS.bodyIdleTimeout);
  if (!bodyIdle.ok) problems.push(bodyIdle.message);
  const body = parseBoundedDuration(label("body-timeout"), raw("body-timeout", "60s").trim(), WAKER_BOUNDS.bodyTimeout);
  if (!body.ok) problems.push(body.message);

  const trustedProxies = cidrList(label("trusted-proxies"), raw("trusted-proxies", ""), problems);

  const logLevel = raw("log-level", "info");
  if (!["debug", "info", "warn", "error"].includes(logLevel))
    problems.push(`${label("log-level")}: must be one of debug, info, warn, error, not ${quote(logLevel)}`);

  if (problems.length > 0) throw new WakerConfigError(problems);
  return {
    listen,
    daemonUrl,
    tokenFile,
    upstreamTemplate,
    metricsAddr,
    maxHeldRequests,
    maxHeldBytes,
    maxBodyBytes,
    holdTimeoutMs: hold.ok ? hold.ms : 0,
    bodyIdleTimeoutMs: bodyIdle.ok ? bodyIdle.ms : 0,
    bodyTimeoutMs: body.ok ? body.ms : 0,
    trustedProxies,
    logLevel: logLevel as WakerConfig["logLevel"],
  };
}
