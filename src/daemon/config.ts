// Configuration of `kserve-reclaimer run`: every flag also reads RECLAIMER_<FLAG> from the
// environment (flags win). All of it is validated once at start-up, and every problem is listed
// before exiting, so a Deployment with three typos fails once, not three times.
import { parseArgs } from "node:util";
import { z } from "zod";
import { parseDuration } from "../api/duration.ts";
import { DEFAULT_WRITE_BURST, DEFAULT_WRITE_QPS } from "../act/writeLimiter.ts";

const duration = (name: string) =>
  z.string().transform((s, ctx) => {
    const ms = parseDuration(s);
    if (!Number.isFinite(ms) || ms <= 0) {
      ctx.addIssue({ code: "custom", message: `--${name}: "${s}" is not a duration such as 15s, 2m or 1h` });
      return z.NEVER;
    }
    return ms;
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
    .transform((s) => s.split(",").map((x) => x.trim()).filter((x) => x.length > 0)),
  prometheusUrl: z.url({ message: "--prometheus-url must be an http(s) URL" }).optional(),
  prometheusBearerTokenFile: optionalFile,
  prometheusBasicAuthUser: z.string().optional(),
  prometheusBasicAuthPasswordFile: optionalFile,
  prometheusCaFile: optionalFile,
  prometheusCertFile: optionalFile,
  prometheusKeyFile: optionalFile,
  prometheusInsecureSkipVerify: bool.default(false),
  prometheusHeader: z.array(z.string().regex(/^[A-Za-z0-9-]+:\s*.*$/, '--prometheus-header must be "Name: value"')).default([]),
  prometheusTimeout: duration("prometheus-timeout").prefault("10s"),
  idleInterval: duration("idle-interval").prefault("15s"),
  // The write limiter's own defaults (1000/s, burst 1000, 32 in flight): measured in docs/performance.md.
  kubeQps: positiveNumber("kube-qps").prefault(String(DEFAULT_WRITE_QPS)),
  kubeBurst: positiveNumber("kube-burst").prefault(String(DEFAULT_WRITE_BURST)),
  dryRun: bool.default(false),
  metricsAddr: z
    .string()
    .regex(/^(?:[^:]*):(\d{1,5})$/, "--metrics-addr must be host:port or :port")
    .default(":8080"),
  leaderElect: bool.default(false),
  leaderElectionNamespace: z.string().default("kserve-reclaimer"),
  leaderElectionId: z.string().default("kserve-reclaimer"),
  identity: z.string().optional(),
  confirmStopTimeout: duration("confirm-stop-timeout").prefault("2m"),
  confirmStartTimeout: duration("confirm-start-timeout").prefault("15m"),
  defaultDeploymentMode: z.enum(["Standard", "RawDeployment", "Knative", "Serverless", "ModelMesh"]).default("Standard"),
  logLevel: z.enum(["debug", "info", "warn", "error"]).default("info"),
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
    throw new ConfigError(parsed.error.issues.map((i) => (i.message.startsWith("--") ? i.message : `--${kebab(i.path.join("."))}: ${i.message}`)));
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
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

function kebab(s: string): string {
  return s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
