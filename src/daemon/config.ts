// Configuration of `kserve-reclaimer run`: every flag also reads RECLAIMER_<FLAG> from the
// environment (flags win). All of it is validated once at start-up, and every problem is listed
// before exiting, so a Deployment with three typos fails once, not three times.
import { isIP } from "node:net";
import { z } from "zod";
import { parseBoundedDuration, type DurationBounds } from "../schedule/index.ts";
import { DEFAULT_WRITE_BURST, DEFAULT_WRITE_QPS } from "../act/writeLimiter.ts";
import { redactUrl } from "../sources/prometheus/client.ts";
import { envName, type FlagTable, parseFlags } from "../config/flags.ts";
import { parseListenAddress } from "../config/listen.ts";
import { DNS_SUBDOMAIN, isDnsSubdomain } from "../api/names.ts";

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

const bool = z.union([z.boolean(), z.enum(["true", "false", "1", "0"]).transform((s) => s === "true" || s === "1")], {
  error: (iss) => `must be true, false, 1 or 0, not ${JSON.stringify(iss.input)}`,
});

const optionalFile = z.string().min(1).optional();

const listenAddr = (name: string) =>
  z.string().superRefine((s, ctx) => {
    const address = parseListenAddress(s);
    if (typeof address === "string") ctx.addIssue({ code: "custom", message: `--${name}: ${address}` });
  });

// A Kubernetes object name (DNS-1123 subdomain), checked here so a typo fails at start, not at the first write.
const objectName = (name: string) =>
  z
    .string()
    .max(253, `--${name}: a Kubernetes name has at most 253 characters`)
    .regex(DNS_SUBDOMAIN, `--${name}: must be a Kubernetes name (lower case, digits, "-" and ".")`);

const certHosts = z
  .string()
  .transform((s) =>
    s
      .split(",")
      .map((x) => x.trim())
      .filter((x) => x.length > 0),
  )
  .superRefine((hosts, ctx) => {
    if (hosts.length > 32) ctx.addIssue({ code: "custom", message: `--webhook-cert-hosts: at most 32 names, not ${hosts.length}` });
    for (const h of hosts)
      if (isIP(h) === 0 && !isDnsSubdomain(h.toLowerCase()))
        ctx.addIssue({
          code: "custom",
          message: `--webhook-cert-hosts: ${JSON.stringify(h.slice(0, 80))} is neither a DNS name nor an IP address`,
        });
  });

const DNS_LABEL = "[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?";
const WAKER_SERVICE = new RegExp(`^(${DNS_LABEL})/(${DNS_LABEL})(?::(\\d{1,5}))?$`);
const WAKER_ACCOUNT = new RegExp(`^system:serviceaccount:${DNS_LABEL}:${DNS_LABEL.replace("{0,61}", "{0,251}")}$`);

/** The waker's Service as "namespace/name[:port]" (port 80 when absent), the backend of every wake route. */
export type WakerService = { namespace: string; name: string; port: number };

export function parseWakerService(s: string): WakerService | string {
  const m = WAKER_SERVICE.exec(s);
  const port = m?.[3] === undefined ? 80 : Number(m[3]);
  if (!m?.[1] || !m[2]) return `--waker-service: ${JSON.stringify(s.slice(0, 80))} must be namespace/name or namespace/name:port`;
  if (port < 1 || port > 65535) return `--waker-service: port ${port} is not in 1-65535`;
  return { namespace: m[1], name: m[2], port };
}

const wakerService = z.string().transform((s, ctx) => {
  const parsed = parseWakerService(s);
  if (typeof parsed === "string") {
    ctx.addIssue({ code: "custom", message: parsed });
    return z.NEVER;
  }
  return parsed;
});

const oneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, { error: (iss) => `must be one of ${values.join(", ")}, not ${JSON.stringify(iss.input)}` });

export const DaemonConfig = z.object({
  kubeconfig: z.string().optional(),
  context: z.string().optional(),
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
  metricsAddr: listenAddr("metrics-addr").default(":8080"),
  webhookAddr: listenAddr("webhook-addr").optional(),
  webhookCertDir: optionalFile,
  webhookSelfManagedCa: bool.default(false),
  webhookSecret: objectName("webhook-secret").default("kserve-reclaimer-webhook-tls"),
  webhookConfiguration: objectName("webhook-configuration").default("kserve-reclaimer"),
  webhookService: objectName("webhook-service").default("kserve-reclaimer-webhook"),
  webhookNamespace: objectName("webhook-namespace").optional(),
  webhookCertHosts: certHosts.default([]),
  leaderElect: bool.default(false),
  leaderElectionNamespace: z.string().default("kserve-reclaimer"),
  leaderElectionId: z.string().default("kserve-reclaimer"),
  identity: z.string().optional(),
  confirmStopTimeout: duration("confirm-stop-timeout").prefault("2m"),
  confirmStartTimeout: duration("confirm-start-timeout").prefault("15m"),
  defaultDeploymentMode: oneOf(["Standard", "RawDeployment", "Knative", "Serverless", "ModelMesh"]).default("Standard"),
  logLevel: oneOf(["debug", "info", "warn", "error"]).default("info"),
  allowCustomQueries: bool.default(false),
  wakerServiceAccount: z
    .string()
    .max(320)
    .regex(WAKER_ACCOUNT, "--waker-service-account must be system:serviceaccount:NAMESPACE:NAME")
    .optional(),
  wakerService: wakerService.optional(),
  wakeTokenAudience: z
    .string()
    .min(1)
    .max(253)
    .regex(/^[\x21-\x7e]+$/, "--wake-token-audience must be printable ASCII without spaces")
    .default("kserve-reclaimer-wake"),
  kserveNamespace: objectName("kserve-namespace").default("kserve"),
  clusterDomain: z
    .string()
    .max(253)
    .regex(DNS_SUBDOMAIN, "--cluster-domain must be a DNS name such as cluster.local")
    .default("cluster.local"),
  customQueryNamespaceLabel: z
    .string()
    .regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, "--custom-query-namespace-label must be a Prometheus label name")
    .default("namespace"),
});
export type DaemonConfig = z.infer<typeof DaemonConfig>;

// Parsing, `help run`, the docs/cli.md table and shell completion all come from this table.
export const FLAGS = {
  kubeconfig: { type: "string", value: "FILE", description: "kubeconfig file", defaultText: "$KUBECONFIG, in-cluster, ~/.kube/config" },
  context: { type: "string", value: "NAME", description: "kubeconfig context to use", defaultText: "the current context" },
  namespaces: { type: "string", value: "A,B", description: "namespaces to watch, comma-separated", defaultText: "all" },
  "prometheus-url": { type: "string", value: "URL", description: "Prometheus base URL; without it the idle rule is off" },
  "prometheus-bearer-token-file": { type: "string", value: "FILE", description: "file with a bearer token for Prometheus (re-read)" },
  "prometheus-basic-auth-user": { type: "string", value: "USER", description: "basic auth user for Prometheus" },
  "prometheus-basic-auth-password-file": { type: "string", value: "FILE", description: "file with the basic auth password" },
  "prometheus-ca-file": { type: "string", value: "FILE", description: "CA bundle to verify Prometheus' certificate" },
  "prometheus-cert-file": { type: "string", value: "FILE", description: "client certificate for Prometheus (with --prometheus-key-file)" },
  "prometheus-key-file": { type: "string", value: "FILE", description: "client key for Prometheus (with --prometheus-cert-file)" },
  "prometheus-insecure-skip-verify": { type: "boolean", description: "do not verify Prometheus' certificate (tests only)" },
  "prometheus-allow-insecure-credentials": {
    type: "boolean",
    description: "allow credentials over plain http or with --prometheus-insecure-skip-verify",
  },
  "prometheus-header": {
    type: "string",
    multiple: true,
    value: '"NAME: VALUE"',
    description: "extra HTTP header for Prometheus (env: one per line)",
  },
  "prometheus-timeout": { type: "string", value: "DURATION", defaultText: "10s", description: "timeout of one Prometheus query (1s-5m)" },
  "idle-interval": { type: "string", value: "DURATION", defaultText: "15s", description: "how often traffic is read (1s-1h)" },
  "kube-qps": { type: "string", value: "N", defaultText: String(DEFAULT_WRITE_QPS), description: "Kubernetes API writes per second" },
  "kube-burst": { type: "string", value: "N", defaultText: String(DEFAULT_WRITE_BURST), description: "burst of Kubernetes API writes" },
  "dry-run": { type: "boolean", description: "decide and log, but change nothing" },
  "metrics-addr": { type: "string", value: "ADDR", defaultText: ":8080", description: "listen address of /metrics and the health checks" },
  "webhook-addr": {
    type: "string",
    value: "ADDR",
    defaultText: "off",
    description: "listen address of the validating admission webhook (HTTPS, path /validate)",
  },
  "webhook-cert-dir": {
    type: "string",
    value: "DIR",
    description: "directory with the webhook's tls.crt and tls.key (cert-manager), re-read",
  },
  "webhook-self-managed-ca": {
    type: "boolean",
    description: "keep the webhook's own CA and certificate in a Secret and set the configuration's caBundle",
  },
  "webhook-secret": {
    type: "string",
    value: "NAME",
    defaultText: "kserve-reclaimer-webhook-tls",
    description: "Secret of the self-managed CA and certificate",
  },
  "webhook-configuration": {
    type: "string",
    value: "NAME",
    defaultText: "kserve-reclaimer",
    description: "ValidatingWebhookConfiguration whose caBundle the self-managed CA sets",
  },
  "webhook-service": {
    type: "string",
    value: "NAME",
    defaultText: "kserve-reclaimer-webhook",
    description: "Service in front of the webhook: its DNS names go into the certificate",
  },
  "webhook-namespace": {
    type: "string",
    value: "NAME",
    defaultText: "--leader-election-namespace",
    description: "namespace of the webhook Service and Secret",
  },
  "webhook-cert-hosts": { type: "string", value: "A,B", description: "more DNS names or IPs for the self-managed certificate" },
  "leader-elect": { type: "boolean", description: "elect a leader among replicas with a Lease" },
  "leader-election-namespace": {
    type: "string",
    value: "NAME",
    defaultText: "kserve-reclaimer",
    description: "namespace of the leader election Lease",
  },
  "leader-election-id": {
    type: "string",
    value: "NAME",
    defaultText: "kserve-reclaimer",
    description: "name of the leader election Lease",
  },
  identity: { type: "string", value: "NAME", defaultText: "the host name", description: "this replica's name in the Lease and Events" },
  "confirm-stop-timeout": {
    type: "string",
    value: "DURATION",
    defaultText: "2m",
    description: "how long to wait for KServe to confirm a stop",
  },
  "confirm-start-timeout": {
    type: "string",
    value: "DURATION",
    defaultText: "15m",
    description: "how long to wait for a started service to be Ready",
  },
  "default-deployment-mode": {
    type: "string",
    value: "MODE",
    defaultText: "Standard",
    description: "KServe's default mode: Standard, RawDeployment, Knative, Serverless or ModelMesh",
  },
  "log-level": { type: "string", value: "LEVEL", defaultText: "info", description: "debug, info, warn or error" },
  "allow-custom-queries": { type: "boolean", description: "allow idle.custom PromQL queries in ServingSchedules" },
  "waker-service-account": {
    type: "string",
    value: "USER",
    defaultText: "system:serviceaccount:<leader-election-namespace>:kserve-reclaimer-waker",
    description: "the only user the wake API answers (checked with a TokenReview)",
  },
  "waker-service": {
    type: "string",
    value: "NS/NAME[:PORT]",
    defaultText: "<leader-election-namespace>/kserve-reclaimer-waker:80",
    description: "the waker's Service, backend of the wake routes",
  },
  "wake-token-audience": {
    type: "string",
    value: "AUDIENCE",
    defaultText: "kserve-reclaimer-wake",
    description: "audience the waker's token must be bound to (its projected token's audience)",
  },
  "kserve-namespace": {
    type: "string",
    value: "NAME",
    defaultText: "kserve",
    description: "namespace of KServe's inferenceservice-config ConfigMap (hosts, Ingress or Gateway API)",
  },
  "cluster-domain": {
    type: "string",
    value: "DOMAIN",
    defaultText: "cluster.local",
    description: "the cluster's DNS domain, for the waker Service's name in wake Ingresses",
  },
  "custom-query-namespace-label": {
    type: "string",
    value: "LABEL",
    defaultText: "namespace",
    description: "label custom queries are confined to the schedule's namespace by",
  },
} as const satisfies FlagTable;

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

/** Flags first, then RECLAIMER_* environment variables, then defaults. Throws ConfigError listing every problem. */
export function loadDaemonConfig(args: string[], env: NodeJS.ProcessEnv): DaemonConfig {
  // Lenient: an unknown flag is one problem among the others, not the only one reported.
  const parsed0 = parseFlags(args, FLAGS, { spacedBooleans: true });
  const values: Record<string, unknown> = parsed0.values;
  const argProblems = [...parsed0.problems, ...parsed0.positionals.map((p) => `unexpected argument "${p}": run takes only flags`)];
  const fromEnvSet = new Set<string>();
  const raw: Record<string, unknown> = {};
  for (const flag of Object.keys(FLAGS)) {
    const key = camel(flag);
    const fromFlag = values[flag];
    const fromEnv = env[envName(flag)];
    if (fromFlag !== undefined) raw[key] = fromFlag;
    else if (fromEnv !== undefined && fromEnv !== "") {
      fromEnvSet.add(flag);
      raw[key] = flag === "prometheus-header" ? fromEnv.split("\n").filter((h) => h.trim() !== "") : fromEnv;
    }
  }
  if (raw.kubeconfig === undefined && env.KUBECONFIG) raw.kubeconfig = env.KUBECONFIG;
  const parsed = DaemonConfig.safeParse(raw);
  if (!parsed.success || argProblems.length > 0) {
    // A value from RECLAIMER_X is reported as RECLAIMER_X: that is where the user has to fix it.
    const label = (flag: string) => (fromEnvSet.has(flag) ? envName(flag) : `--${flag}`);
    const issues = (parsed.error?.issues ?? []).map((i) => {
      const flag = kebab(String(i.path[0] ?? ""));
      return i.message.startsWith(`--${flag}`) ? `${label(flag)}${i.message.slice(flag.length + 2)}` : `${label(flag)}: ${i.message}`;
    });
    throw new ConfigError([...argProblems, ...issues]);
  }
  const config = parsed.data;
  const problems: string[] = [];
  if ((config.prometheusCertFile === undefined) !== (config.prometheusKeyFile === undefined)) {
    problems.push("--prometheus-cert-file and --prometheus-key-file go together");
  }
  if (config.prometheusBasicAuthUser !== undefined && config.prometheusBasicAuthPasswordFile === undefined) {
    problems.push("--prometheus-basic-auth-user needs --prometheus-basic-auth-password-file");
  }
  if (config.webhookAddr !== undefined && (config.webhookCertDir === undefined) === !config.webhookSelfManagedCa)
    problems.push("--webhook-addr needs exactly one of --webhook-cert-dir (cert-manager) and --webhook-self-managed-ca");
  if (config.webhookAddr === undefined && (config.webhookCertDir !== undefined || config.webhookSelfManagedCa))
    problems.push("--webhook-cert-dir and --webhook-self-managed-ca go with --webhook-addr");
  if (config.kubeBurst < config.kubeQps) problems.push("--kube-burst must be at least --kube-qps");
  const exposed = exposedCredentials(config);
  if (exposed !== undefined && !config.prometheusAllowInsecureCredentials) {
    problems.push(`${exposed}; use https with certificate verification, or accept the risk with --prometheus-allow-insecure-credentials`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** The waker's user name and Service, with their defaults in the daemon's namespace. */
export function wakerOf(config: DaemonConfig): { user: string; service: WakerService } {
  const ns = config.leaderElectionNamespace;
  return {
    user: config.wakerServiceAccount ?? `system:serviceaccount:${ns}:kserve-reclaimer-waker`,
    service: config.wakerService ?? { namespace: ns, name: "kserve-reclaimer-waker", port: 80 },
  };
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
