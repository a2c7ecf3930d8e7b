// Shared pieces of the benchmarks against the real control plane (test/bench/*.bench.ts):
// a keep-alive HTTPS client for the apiserver (bulk creates, /metrics, an independent watch),
// the daemon's CPU and memory from /proc, result files and tables.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { request as httpsRequest } from "node:https";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { loadDaemonConfig } from "../../src/daemon/config.ts";
import { BUNDLE_ENTRY } from "../../scripts/bundle.ts";
import { gpuInferenceService } from "../support/kube.ts";
import { Api, parallel, sleepMs } from "./api.ts";

export { Api, parallel, sleepMs };

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const RESULTS_DIR = join(ROOT, "test", "bench", "results");

export const ISVC_PATH = "/apis/serving.kserve.io/v1beta1";
export const SCHEDULE_PATH = "/apis/reclaimer.dev/v1alpha1";
export const STOP = "serving.kserve.io/stop";

/** The rate limits `kserve-reclaimer run` uses when no flag is given. */
export function daemonDefaults(): { kubeQps: number; kubeBurst: number; idleIntervalMs: number } {
  const c = loadDaemonConfig([], {});
  return { kubeQps: c.kubeQps, kubeBurst: c.kubeBurst, idleIntervalMs: c.idleInterval };
}

/**
 * The daemon's NODE_OPTIONS: BENCH_DAEMON_NODE_OPTIONS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof";
 * set it empty for none), by default what deploy/base/deployment.yaml gives the container, so the
 * figures are those of the daemon as deployed.
 */
export function daemonEnv(): NodeJS.ProcessEnv {
  const opts = process.env["BENCH_DAEMON_NODE_OPTIONS"] ?? deployedNodeOptions();
  return opts ? { NODE_OPTIONS: opts } : {};
}

function deployedNodeOptions(): string {
  const manifest = readFileSync(join(ROOT, "deploy", "base", "deployment.yaml"), "utf8");
  const m = /- name: NODE_OPTIONS\b[^\n]*\n\s*value: *(.+)/.exec(manifest);
  if (!m?.[1]) throw new Error("deploy/base/deployment.yaml: no NODE_OPTIONS for the daemon");
  return m[1].trim();
}

/**
 * BENCH_DAEMON_NODE_FLAGS (e.g. "--optimize-for-size --single-threaded-gc"): flags on the daemon's
 * node command line, for the V8 flags Node refuses in NODE_OPTIONS.
 */
export function daemonNodeFlags(): string[] {
  return (process.env["BENCH_DAEMON_NODE_FLAGS"] ?? "").split(/\s+/).filter((f) => f !== "");
}

export function log(msg: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 23)}] ${msg}\n`);
}

export function envNumber(name: string, fallback: number): number {
  const v = process.env[name];
  if (v === undefined || v === "") return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}=${v}: not a positive number`);
  return n;
}

export function envList(name: string, fallback: number[]): number[] {
  const v = process.env[name];
  if (v === undefined || v === "") return fallback;
  return v.split(",").map((s) => Number(s.trim()));
}

export function namespaceName(i: number): string {
  return `bench-${String(i).padStart(2, "0")}`;
}

/** A plain InferenceService (no KServe controller needed: nothing reconciles it). */
export function isvc(namespace: string, name: string, gpus = 1): Record<string, unknown> {
  return gpuInferenceService(namespace, name, { gpus }) as unknown as Record<string, unknown>;
}

export function servingSchedule(namespace: string, name: string, spec: Record<string, unknown>): Record<string, unknown> {
  return { apiVersion: "reclaimer.dev/v1alpha1", kind: "ServingSchedule", metadata: { name, namespace }, spec };
}

/** `namespaces` namespaces and `n` services spread round-robin over them, 32 creates in flight. */
export async function populate(api: Api, n: number, namespaces: number, concurrency = 32): Promise<{ seconds: number; perSecond: number }> {
  const t0 = Date.now();
  await parallel(
    Array.from({ length: namespaces }, (_, i) => namespaceName(i)),
    concurrency,
    async (ns) => {
      await api.must("POST", "/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } });
    },
  );
  let done = 0;
  await parallel(
    Array.from({ length: n }, (_, i) => i),
    concurrency,
    async (i) => {
      const ns = namespaceName(i % namespaces);
      await api.must("POST", `${ISVC_PATH}/namespaces/${ns}/inferenceservices`, isvc(ns, `svc-${String(i).padStart(5, "0")}`));
      if (++done % 2000 === 0) log(`  created ${done}/${n}`);
    },
  );
  const seconds = (Date.now() - t0) / 1000;
  return { seconds, perSecond: n / seconds };
}

export type ApiserverCounts = Map<string, number>;

/** apiserver_request_total summed by verb/resource[/subresource], only for the resources given. */
export async function apiserverRequests(api: Api, resources: string[]): Promise<ApiserverCounts> {
  const res = await api.request("GET", "/metrics");
  if (res.status !== 200) throw new Error(`apiserver /metrics: ${res.status}`);
  const out: ApiserverCounts = new Map();
  for (const line of res.body.split("\n")) {
    if (!line.startsWith("apiserver_request_total{")) continue;
    const m = /^apiserver_request_total\{([^}]*)\}\s+(\S+)/.exec(line);
    if (!m) continue;
    const l = Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]])) as Record<string, string>;
    if (!resources.includes(l["resource"] ?? "")) continue;
    const k = `${l["verb"]} ${l["resource"]}${l["subresource"] ? `/${l["subresource"]}` : ""}`;
    out.set(k, (out.get(k) ?? 0) + Number(m[2]));
  }
  return out;
}

export function diffCounts(before: ApiserverCounts, after: ApiserverCounts): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of after) {
    const d = v - (before.get(k) ?? 0);
    if (d !== 0) out[k] = d;
  }
  return out;
}

export function sumVerbs(counts: Record<string, number>, verbs: string[]): number {
  return Object.entries(counts)
    .filter(([k]) => verbs.includes(k.split(" ")[0]!))
    .reduce((a, [, v]) => a + v, 0);
}

const CLK_TCK = 100;

/** CPU seconds (user + system) and memory of a process, from /proc. */
export function procStats(pid: number): { cpuSeconds: number; rssMiB: number; peakRssMiB: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // utime, stime (fields 14, 15)
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? NaN);
  return { cpuSeconds, rssMiB: kb("VmRSS") / 1024, peakRssMiB: kb("VmHWM") / 1024 };
}

/** Counter values summed over series of `name` matching all labels, from Prometheus text exposition. */
export function metricSum(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const m = /^([^{\s]+)(?:\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[3]);
  }
  return sum;
}

/**
 * An independent watch on all InferenceServices (not the daemon's): records, per service, when
 * `serving.kserve.io/stop` was first seen "true" after start().
 */
export class StopWatcher {
  readonly stoppedAt = new Map<string, number>();
  #req: ReturnType<typeof httpsRequest> | undefined;
  #closed = false;
  readonly #api: Api;
  #rv = "";
  constructor(api: Api) {
    this.#api = api;
  }

  async start(): Promise<void> {
    const list = (await this.#api.must("GET", `${ISVC_PATH}/inferenceservices?limit=1`)) as { metadata: { resourceVersion: string } };
    // limit=1 is enough for a resourceVersion; objects already stopped would be replayed by nothing, and none are.
    this.#rv = list.metadata.resourceVersion;
    this.#open();
  }

  #open(): void {
    if (this.#closed) return;
    const path = `${ISVC_PATH}/inferenceservices?watch=1&allowWatchBookmarks=true&timeoutSeconds=600&resourceVersion=${this.#rv}`;
    let buf = "";
    const req = httpsRequest(`${this.#api.server}${path}`, { method: "GET", agent: this.#api.agent }, (res) => {
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        const now = Date.now();
        buf += chunk;
        let i: number;
        while ((i = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          if (!line) continue;
          const ev = JSON.parse(line) as {
            type: string;
            object: { metadata: { name: string; namespace: string; resourceVersion: string; annotations?: Record<string, string> } };
          };
          if (ev.type === "ERROR") continue;
          this.#rv = ev.object.metadata.resourceVersion;
          if (ev.type === "BOOKMARK") continue;
          const k = `${ev.object.metadata.namespace}/${ev.object.metadata.name}`;
          if (ev.object.metadata.annotations?.[STOP] === "true" && !this.stoppedAt.has(k)) this.stoppedAt.set(k, now);
        }
      });
      res.on("end", () => setTimeout(() => this.#open(), 10));
    });
    req.on("error", () => setTimeout(() => this.#open(), 100));
    req.end();
    this.#req = req;
  }

  close(): void {
    this.#closed = true;
    this.#req?.destroy();
  }
}

export function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** Prints an aligned table. */
export function printTable(title: string, rows: Record<string, string | number>[]): void {
  if (rows.length === 0) return;
  const cols = Object.keys(rows[0]!);
  const cell = (v: string | number | undefined) => (typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toFixed(2)) : (v ?? ""));
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals: string[]) => `| ${vals.map((v, i) => v.padEnd(widths[i]!)).join(" | ")} |`;
  console.log(`\n${title}`);
  console.log(line(cols));
  console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
  for (const r of rows) console.log(line(cols.map((c) => cell(r[c]))));
}

export function writeResult(name: string, result: unknown): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const path = join(RESULTS_DIR, `${name}.json`);
  writeFileSync(path, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`result: ${relative(process.cwd(), path) || path}`);
  return path;
}

export function machine(): Record<string, unknown> {
  const cpus = readFileSync("/proc/cpuinfo", "utf8")
    .split("\n")
    .filter((l) => l.startsWith("processor")).length;
  const mem = Number(/MemTotal:\s+(\d+)/.exec(readFileSync("/proc/meminfo", "utf8"))?.[1] ?? 0);
  return { cpus, memGiB: Math.round(mem / 1024 / 1024), node: process.version, at: new Date().toISOString() };
}

export type LogLine = { time: string; level: string; msg: string; [k: string]: unknown };

/**
 * BENCH_DAEMON_ENTRY: "src" runs `node src/cli/main.ts run` (type stripping, as in the tests);
 * "dist" (default for the memory figures) runs what the container image runs: the esbuild bundle of
 * `npm run build` (scripts/bundle.ts), built into test/bench/results/dist so dist/ is left alone.
 * A path to a .js file runs that (another build, for a comparison) and counts as "dist".
 */
export function daemonEntry(fallback: "src" | "dist"): { kind: "src" | "dist"; path: string } {
  const kind = (process.env["BENCH_DAEMON_ENTRY"] ?? fallback) as "src" | "dist";
  if (kind.endsWith(".js")) return { kind: "dist", path: resolve(kind) };
  if (kind === "src") return { kind, path: join(ROOT, "src", "cli", "main.ts") };
  if (kind !== "dist") throw new Error(`BENCH_DAEMON_ENTRY=${kind}: src, dist or a .js file`);
  const outDir = join(RESULTS_DIR, "dist");
  log(`bundling the daemon into ${relative(ROOT, outDir)} (scripts/bundle.ts, as npm run build)`);
  execFileSync(process.execPath, [join(ROOT, "scripts", "bundle.ts"), outDir], { cwd: ROOT, stdio: ["ignore", process.stderr, "inherit"] });
  return { kind, path: join(outDir, BUNDLE_ENTRY) };
}

/** The daemon as a child process (`<entry> run --metrics-addr 127.0.0.1:0 ...`), its JSON log lines parsed. */
export class BenchDaemon {
  readonly proc: ChildProcess;
  readonly logs: LogLine[] = [];
  readonly spawnedAt = Date.now();
  port: number | undefined;
  #buf = "";
  #exited: Promise<number | null>;

  constructor(entry: string, args: string[], env: NodeJS.ProcessEnv = {}) {
    this.proc = spawn(process.execPath, [...daemonNodeFlags(), entry, "run", "--metrics-addr", "127.0.0.1:0", ...args], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "ignore", "pipe"],
    });
    this.#exited = new Promise((r) => this.proc.on("exit", (code) => r(code)));
    process.on("exit", () => this.proc.kill("SIGKILL"));
    this.proc.stderr!.setEncoding("utf8");
    this.proc.stderr!.on("data", (chunk: string) => {
      this.#buf += chunk;
      let i: number;
      while ((i = this.#buf.indexOf("\n")) >= 0) {
        const line = this.#buf.slice(0, i);
        this.#buf = this.#buf.slice(i + 1);
        try {
          const entry = JSON.parse(line) as LogLine;
          this.logs.push(entry);
          if (entry.msg === "serving /metrics /healthz /readyz") this.port = entry["port"] as number;
        } catch {
          this.logs.push({ time: "", level: "raw", msg: line });
        }
      }
    });
  }

  async waitForLog(pred: (l: LogLine) => boolean, what: string, timeoutMs: number): Promise<LogLine> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const hit = this.logs.find(pred);
      if (hit) return hit;
      if (this.proc.exitCode !== null) break;
      await sleepMs(20);
    }
    throw new Error(
      `daemon: no "${what}" within ${timeoutMs} ms (exit ${this.proc.exitCode}):\n${this.logs
        .slice(-15)
        .map((l) => JSON.stringify(l))
        .join("\n")}`,
    );
  }

  async stop(): Promise<number | null> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill("SIGTERM");
    return this.#exited;
  }
}

/** Pids of the processes whose command line mentions `needle` (the plane's etcd and kube-apiserver, by their temp dir). */
export function pidsMentioning(needle: string): { pid: number; name: string }[] {
  const out: { pid: number; name: string }[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      if (!cmd.some((a) => a.includes(needle))) continue;
      const name = cmd[0]!.endsWith("hyperkube") ? cmd[1]! : cmd[0]!.split("/").pop()!;
      out.push({ pid: Number(entry), name });
    } catch {
      // gone
    }
  }
  return out;
}

/** CPU seconds per named process, and of the whole machine (all cores, from /proc/stat). */
export function cpuSnapshot(procs: { pid: number; name: string }[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of procs) {
    try {
      out[p.name] = (out[p.name] ?? 0) + procStats(p.pid).cpuSeconds;
    } catch {
      // gone
    }
  }
  const cpu = readFileSync("/proc/stat", "utf8").split("\n")[0]!.split(/\s+/).slice(1).map(Number);
  out["machine busy"] = (cpu.reduce((a, b) => a + b, 0) - (cpu[3] ?? 0) - (cpu[4] ?? 0)) / CLK_TCK;
  return out;
}

/**
 * Builds a binary that only a benchmark needs (test/cluster/build's ON_REQUEST_COMPONENTS, e.g. a
 * peer tool run side by side with the daemon) and returns its path. A stamp check when it is built.
 */
export function buildOnRequest(component: string): string {
  const build = join(ROOT, "test", "cluster", "build");
  execFileSync(build, [component], { cwd: ROOT, stdio: ["ignore", process.stderr, process.stderr] });
  const bin = execFileSync(build, ["--print-bin-dir"], { cwd: ROOT, encoding: "utf8" }).trim();
  return join(bin, component);
}

/** Counts by "verb resource" summed to counts by verb, e.g. { PATCH: 1000, LIST: 50 }. */
export function byVerb(counts: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(counts)) {
    const verb = k.split(" ")[0]!;
    out[verb] = (out[verb] ?? 0) + v;
  }
  return out;
}

/** "PATCH 1000, LIST 50" (largest first), or "0". */
export function verbSummary(counts: Record<string, number>): string {
  const parts = Object.entries(byVerb(counts))
    .filter(([, v]) => v !== 0)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v}`);
  return parts.length > 0 ? parts.join(", ") : "0";
}
