// Configuration of `kserve-reclaimer run`: every flag also reads RECLAIMER_<FLAG> from the
// environment (flags win). All of it is validated once at start-up, and every problem is listed
// before exiting, so a Deployment with three typos fails once, not three times.
import { parseArgs } from "node:util";
import { z } from "zod";
import { parseBoundedDuration, type DurationBounds } from "../api/duration.ts";
import { DEFAULT_WRITE_BURST, DEFAULT_WRITE_QPS } from "../act/writeLimiter.ts";
import { redactUrl } from "../sources/prometheus/client.ts";

// Every duration flag has bounds, checked here and listed in docs/install.md: beyond them a value
// is a typo (600h for 600s), and some would break timers or make every query fail at once.
export const DURATION_BOUNDS = {
  "prometheus-timeout": { min: 1_000, max: 5 * 60_000 },
  "idle-interval": { min: 1_000, max: 60 * 60_000 },
  "confirm-stop-timeout": { min: 1_000, max: 24 * 3_600_000 },
  "confirm-start-timeout": { min: 1_000, max: 24 * 3_600_000 },
} as const satisfies Record<string, DurationBounds>;

const duration = (name: keyof typeof DURATION_BOUNDS) =>
  z.string().transform((s, ctx) => {
    const parsed = parseBoundedDuration(`--${name}`, s, DURATION_BOUNDS[name]);
    if (!parsed.ok) {
      ctx.addIssue({ code: "custom", message: parsed.message });
      return z.NEVER;
    }
    return parsed.ms;
  });

const positiveNumber = (name: string) =>
  z.string().transform((s, ctx) => {
    const n = Number(s);
    if (s.trim() === "" || !Number.isFinite(n) || n <= 0) {
      ctx.addIssue({ code: "custom", message: `--${name}: "${s}" is not a positive number` });
      return z.NEVER;
    }
    return n;
  });

const bool = z.union([z.boolean(), z.enum(["true", "false", "1", "0"]).transform((s) => s === "true" || s === "1")]);

const optionalFile = z.string().min(1).optional();

export const DaemonConfig = z.object({
  kubeconfig: z.string().optional(),
  namespaces: z
    .string()
    .default("")
    .transform((s) =>
      s
        .split(",")
        .map((x) => x.trim())
        .filter((x) => x.length > 0),
    ),
  prometheusUrl: z
    .string()
    .superRefine((s, ctx) => {
      // Never echo the URL as given: it may carry user:password@.
      let url: URL;
      try {
        url = new URL(s);
      } catch {
        // Not even redacted: without a parsed authority, any part of it could be the password.
        ctx.addIssue({ code: "custom", message: "--prometheus-url is not a valid URL (value not shown, it may contain a password)" });
        return;
      }
      if (url.protocol !== "http:" && url.protocol !== "https:") {
        ctx.addIssue({
          code: "custom",
          message: `--prometheus-url: ${JSON.stringify(redactUrl(url.href))} must be an http:// or https:// URL`,
        });
      }
    })
    .optional(),
  prometheusBearerTokenFile: optionalFile,
  prometheusBasicAuthUser: z.string().optional(),
  prometheusBasicAuthPasswordFile: optionalFile,
  prometheusCaFile: optionalFile,
  prometheusCertFile: optionalFile,
  prometheusKeyFile: optionalFile,
  prometheusInsecureSkipVerify: bool.default(false),
  prometheusAllowInsecureCredentials: bool.default(false),
  prometheusHeader: z.array(z.string().regex(/^[A-Za-z0-9-]+:\s*.*$/, '--prometheus-header must be "Name: value"')).default([]),
  prometheusTimeout: duration("prometheus-timeout").prefault("10s"),
  idleInterval: duration("idle-interval").prefault("15s"),
  // The write limiter's own defaults (1000/s, burst 1000, 32 in flight): measured in docs/performance.md.
  kubeQps: positiveNumber("kube-qps").prefault(String(DEFAULT_WRITE_QPS)),
  kubeBurst: positiveNumber("kube-burst").prefault(String(DEFAULT_WRITE_BURST)),
  dryRun: bool.default(false),
  metricsAddr: z
    .string()
    .superRefine((s, ctx) => {
      const port = /^[^:]*:(\d+)$/.exec(s)?.[1];
      if (port === undefined) ctx.addIssue({ code: "custom", message: `--metrics-addr: ${JSON.stringify(s)} must be host:port or :port` });
      // 0 asks the kernel for a free port (the tests' daemons use it).
      else if (Number(port) > 65535) ctx.addIssue({ code: "custom", message: `--metrics-addr: port ${port} is not in 0-65535` });
    })
    .default(":8080"),
  leaderElect: bool.default(false),
  leaderElectionNamespace: z.string().default("kserve-reclaimer"),
  leaderElectionId: z.string().default("kserve-reclaimer"),
  identity: z.string().optional(),
  confirmStopTimeout: duration("confirm-stop-timeout").prefault("2m"),
  confirmStartTimeout: duration("confirm-start-timeout").prefault("15m"),
  defaultDeploymentMode: z.enum(["Standard", "RawDeployment", "Knative", "Serverless", "ModelMesh"]).default("Standard"),
  logLevel: z.enum(["debug", "info", "warn", "error"]).default("info"),
  allowCustomQueries: bool.default(false),
  customQueryNamespaceLabel: z
    .string()
    .regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, "--custom-query-namespace-label must be a Prometheus label name")
    .default("namespace"),
});
export type DaemonConfig = z.infer<typeof DaemonConfig>;

const FLAGS = {
  kubeconfig: { type: "string" },
  namespaces: { type: "string" },
  "prometheus-url": { type: "string" },
  "prometheus-bearer-token-file": { type: "string" },
  "prometheus-basic-auth-user": { type: "string" },
  "prometheus-basic-auth-password-file": { type: "string" },
  "prometheus-ca-file": { type: "string" },
  "prometheus-cert-file": { type: "string" },
  "prometheus-key-file": { type: "string" },
  "prometheus-insecure-skip-verify": { type: "string" },
  "prometheus-allow-insecure-credentials": { type: "boolean" },
  "prometheus-header": { type: "string", multiple: true },
  "prometheus-timeout": { type: "string" },
  "idle-interval": { type: "string" },
  "kube-qps": { type: "string" },
  "kube-burst": { type: "string" },
  "dry-run": { type: "boolean" },
  "metrics-addr": { type: "string" },
  "leader-elect": { type: "boolean" },
  "leader-election-namespace": { type: "string" },
  "leader-election-id": { type: "string" },
  identity: { type: "string" },
  "confirm-stop-timeout": { type: "string" },
  "confirm-start-timeout": { type: "string" },
  "default-deployment-mode": { type: "string" },
  "log-level": { type: "string" },
  "allow-custom-queries": { type: "boolean" },
  "custom-query-namespace-label": { type: "string" },
} as const;

export const DAEMON_FLAGS = Object.keys(FLAGS);

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid configuration:\n  ${problems.join("\n  ")}`);
    this.name = "ConfigError";
    this.problems = problems;
  }
}

const camel = (flag: string) => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
const envName = (flag: string) => `RECLAIMER_${flag.replace(/-/g, "_").toUpperCase()}`;

/** Flags first, then RECLAIMER_* environment variables, then defaults. Throws ConfigError listing every problem. */
export function loadDaemonConfig(args: string[], env: NodeJS.ProcessEnv): DaemonConfig {
  let values: Record<string, unknown>;
  try {
    values = parseArgs({ args, options: FLAGS, allowPositionals: false, strict: true }).values;
  } catch (err) {
    throw new ConfigError([err instanceof Error ? err.message : String(err)]);
  }
  const raw: Record<string, unknown> = {};
  for (const flag of Object.keys(FLAGS)) {
    const key = camel(flag);
    const fromFlag = values[flag];
    const fromEnv = env[envName(flag)];
    if (fromFlag !== undefined) raw[key] = fromFlag;
    else if (fromEnv !== undefined && fromEnv !== "") {
      raw[key] = flag === "prometheus-header" ? fromEnv.split("\n").filter((h) => h.trim() !== "") : fromEnv;
    }
  }
  if (raw.kubeconfig === undefined && env.KUBECONFIG) raw.kubeconfig = env.KUBECONFIG;
  const parsed = DaemonConfig.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => (i.message.startsWith("--") ? i.message : `--${kebab(i.path.join("."))}: ${i.message}`)),
    );
  }
  const config = parsed.data;
  const problems: string[] = [];
  if ((config.prometheusCertFile === undefined) !== (config.prometheusKeyFile === undefined)) {
    problems.push("--prometheus-cert-file and --prometheus-key-file go together");
  }
  if (config.prometheusBasicAuthUser !== undefined && config.prometheusBasicAuthPasswordFile === undefined) {
    problems.push("--prometheus-basic-auth-user needs --prometheus-basic-auth-password-file");
  }
  if (config.kubeBurst < config.kubeQps) problems.push("--kube-burst must be at least --kube-qps");
  const exposed = exposedCredentials(config);
  if (exposed !== undefined && !config.prometheusAllowInsecureCredentials) {
    problems.push(`${exposed}; use https with certificate verification, or accept the risk with --prometheus-allow-insecure-credentials`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

// Headers that authenticate: sending one in the clear is as bad as sending a bearer token.
const CREDENTIAL_HEADERS = new Set(["authorization", "proxy-authorization", "cookie"]);

/**
 * Why Prometheus credentials would travel where anyone on the path can read or intercept them
 * (plain http, or TLS without verifying the server), or undefined when they would not. With the
 * Helm chart's serviceAccountToken the bearer token is the pod's own Kubernetes token.
 */
export function exposedCredentials(config: DaemonConfig): string | undefined {
  if (config.prometheusUrl === undefined) return undefined;
  const url = new URL(config.prometheusUrl);
  const credentials: string[] = [];
  if (config.prometheusBearerTokenFile !== undefined) credentials.push("a bearer token (--prometheus-bearer-token-file)");
  if (config.prometheusBasicAuthUser !== undefined) credentials.push("basic auth (--prometheus-basic-auth-user)");
  if (url.username !== "" || url.password !== "") credentials.push("a user name or password in --prometheus-url");
  for (const header of config.prometheusHeader) {
    const name = header.slice(0, header.indexOf(":")).trim();
    if (CREDENTIAL_HEADERS.has(name.toLowerCase())) credentials.push(`a ${name} header (--prometheus-header)`);
  }
  if (credentials.length === 0) return undefined;
  const how =
    url.protocol === "http:"
      ? `over plain http:// (${redactUrl(url.href)})`
      : config.prometheusInsecureSkipVerify
        ? "to a server whose certificate is not verified (--prometheus-insecure-skip-verify)"
        : undefined;
  return how === undefined ? undefined : `Prometheus credentials would be sent ${how}: ${credentials.join(", ")}`;
}

function kebab(s: string): string {
  return s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
