// Side by side with kube-green (issue 15): the same job done three ways at the same kind of minute
// boundary, N InferenceServices over 50 namespaces, each set `serving.kserve.io/stop: "true"`:
//
//   bare              test/bench/bare-patcher.ts: a keep-alive client that lists, sleeps until the
//                     boundary and sends one merge patch per service, 32 in flight (the ceiling).
//   kserve-reclaimer  `kserve-reclaimer run` (compiled, like the image; BENCH_DAEMON_ENTRY=src for
//                     the sources), a ServingSchedule per namespace whose uptime window ends at the
//                     boundary. --confirm-stop-timeout 24h: no KServe controller runs here to confirm
//                     a stop, and kube-green waits for no confirmation either.
//   kube-green        v0.7.1, built from its Go module by `test/cluster/build kube-green` (on request,
//                     not in CI), its SleepInfo CRD read from the downloaded module; a SleepInfo per
//                     namespace, sleepAt = the boundary (UTC, weekdays "*", no wakeUpAt), with a JSON
//                     patch adding the annotation to serving.kserve.io/InferenceService and its
//                     Deployment/StatefulSet suspension off. It acts at once on a SleepInfo created
//                     within --sleep-delta (60 s) of sleepAt, so the SleepInfos go in 100+ s ahead.
//
// Each (N, tool) runs on a fresh plane (etcd + kube-apiserver, test/integration/kube-plane.ts, no
// KServe controller): no watch cache, etcd history or resourceVersion carries over between tools.
// The same independent watch (test/bench/lib.ts StopWatcher) times first/p50/last annotation after
// the boundary. apiserver_request_total, by verb, over the controllers' resources, in two windows:
// the flip (boundary - 5 s to last annotation + 5 s) and at rest (BENCH_PEERS_REST_SECONDS, default
// 300, starting BENCH_PEERS_SETTLE_SECONDS, default 10, after the flip window). The bare row's rest
// window has no client at all: it is the plane's own background. Peak RSS (VmHWM) and CPU seconds
// of each tool's process from /proc.
//
//   npm run bench:peers                                          # N = 100, 1000, 5000; rest 5 min
//   BENCH_PEERS_N=100 BENCH_PEERS_REST_SECONDS=30 npm run bench:peers
//   BENCH_PEERS_TOOLS=kube-green,kserve-reclaimer npm run bench:peers
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { startKubePlane, type KubePlane } from "../integration/kube-plane.ts";
import { generatePki } from "../support/certs.ts";
import { hhmm, nextBoundary } from "../support/daemon.ts";
import { freePort } from "../support/processes.ts";
import {
  Api,
  apiserverRequests,
  BenchDaemon,
  buildOnRequest,
  byVerb,
  cpuSnapshot,
  daemonEntry,
  daemonEnv,
  diffCounts,
  envList,
  envNumber,
  log,
  machine,
  namespaceName,
  parallel,
  pidsMentioning,
  populate,
  printTable,
  procStats,
  quantile,
  ROOT,
  SCHEDULE_PATH,
  servingSchedule,
  sleepMs,
  StopWatcher,
  verbSummary,
  writeResult,
} from "./lib.ts";

const NAMESPACES = 50;
const KUBE_GREEN_VERSION = "v0.7.1";
const TOOLS = ["bare", "kserve-reclaimer", "kube-green"] as const;
type Tool = (typeof TOOLS)[number];
/** What any of the three may touch (kube-green keeps its restore patches in a Secret per SleepInfo). */
const RESOURCES = ["inferenceservices", "servingschedules", "sleepinfos", "secrets", "events", "deployments", "statefulsets", "cronjobs"];

const counts = envList("BENCH_PEERS_N", [100, 1000, 5000]);
const restSeconds = envNumber("BENCH_PEERS_REST_SECONDS", 300);
const settleSeconds = envNumber("BENCH_PEERS_SETTLE_SECONDS", 10);
const tools = (process.env["BENCH_PEERS_TOOLS"]?.split(",").map((s) => s.trim()) ?? [...TOOLS]) as Tool[];
for (const t of tools) if (!TOOLS.includes(t)) throw new Error(`BENCH_PEERS_TOOLS: unknown tool ${t} (known: ${TOOLS.join(", ")})`);

const kubeGreenBin = tools.includes("kube-green") ? buildOnRequest("kube-green") : "";
const entry = tools.includes("kserve-reclaimer") ? daemonEntry("dist") : undefined;

type Run = {
  tool: Tool;
  n: number;
  boundary: string;
  firstMs: number;
  p50Ms: number;
  p99Ms: number;
  lastMs: number;
  stopped: number;
  createSeconds: number;
  flip: { seconds: number; requests: Record<string, number>; byVerb: Record<string, number>; cpuSeconds: number };
  rest: { seconds: number; requests: Record<string, number>; byVerb: Record<string, number>; cpuSeconds: number };
  process: { peakRssMiB: number; rssAtEndMiB: number; cpuSecondsTotal: number; startupToReadyMs: number };
  /** CPU seconds of kube-apiserver, etcd and the whole machine ("machine busy", 2 cores) in the flip window. */
  planeCpuSecondsFlip: Record<string, number>;
};

/** kube-green's SleepInfo CRD, from the downloaded module (nothing of kube-green is in this repo). */
function kubeGreenCrd(): Record<string, unknown> {
  const info = JSON.parse(
    execFileSync("go", ["mod", "download", "-json", `github.com/kube-green/kube-green@${KUBE_GREEN_VERSION}`], {
      cwd: ROOT,
      encoding: "utf8",
    }),
  ) as { Dir?: string };
  if (!info.Dir) throw new Error(`go mod download github.com/kube-green/kube-green@${KUBE_GREEN_VERSION}: no Dir`);
  const path = join(info.Dir, "config", "crd", "bases", "kube-green.com_sleepinfos.yaml");
  const doc = parseAllDocuments(readFileSync(path, "utf8"))
    .map((d) => d.toJS() as Record<string, unknown>)
    .find((o) => o?.["kind"] === "CustomResourceDefinition");
  if (!doc) throw new Error(`${path}: no CustomResourceDefinition`);
  return doc;
}

async function installKubeGreenCrd(api: Api): Promise<void> {
  const crd = kubeGreenCrd();
  const name = (crd["metadata"] as { name: string }).name;
  await api.must(
    "PATCH",
    `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}?fieldManager=peers-bench&force=true`,
    crd,
    "application/apply-patch+yaml",
  );
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const res = await api.request("GET", "/apis/kube-green.com/v1alpha1/sleepinfos?limit=1");
    if (res.status === 200) return;
    await sleepMs(200);
  }
  throw new Error("the SleepInfo CRD is not served within 60 s");
}

function sleepInfo(namespace: string, sleepAt: string): Record<string, unknown> {
  return {
    apiVersion: "kube-green.com/v1alpha1",
    kind: "SleepInfo",
    metadata: { name: "stop-inferenceservices", namespace },
    spec: {
      weekdays: "*",
      sleepAt,
      timeZone: "UTC",
      suspendDeployments: false,
      suspendStatefulSets: false,
      patches: [
        {
          target: { group: "serving.kserve.io", kind: "InferenceService" },
          // JSON 6902 (YAML): "/" in the annotation key is escaped as "~1".
          patch: '- op: add\n  path: /metadata/annotations/serving.kserve.io~1stop\n  value: "true"\n',
        },
      ],
    },
  };
}

/** A child process whose stderr is kept (last 200 lines) and mirrored to a log file in the plane's dir. */
class Child {
  readonly proc: ChildProcess;
  readonly lines: string[] = [];
  stdout = "";
  readonly #exited: Promise<number | null>;
  #buf = "";
  constructor(cmd: string, args: string[], env: NodeJS.ProcessEnv, logPath: string) {
    this.proc = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    this.#exited = new Promise((r) => this.proc.on("exit", (code) => r(code)));
    process.on("exit", () => this.proc.kill("SIGKILL"));
    writeFileSync(logPath, "");
    this.proc.stdout!.setEncoding("utf8");
    this.proc.stdout!.on("data", (c: string) => (this.stdout += c));
    this.proc.stderr!.setEncoding("utf8");
    this.proc.stderr!.on("data", (chunk: string) => {
      writeFileSync(logPath, chunk, { flag: "a" });
      this.#buf += chunk;
      let i: number;
      while ((i = this.#buf.indexOf("\n")) >= 0) {
        this.lines.push(this.#buf.slice(0, i));
        this.#buf = this.#buf.slice(i + 1);
        if (this.lines.length > 200) this.lines.shift();
      }
    });
  }

  async waitFor(pred: (line: string) => boolean, what: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.lines.some(pred)) return;
      if (this.proc.exitCode !== null) break;
      await sleepMs(50);
    }
    throw new Error(`no "${what}" within ${timeoutMs} ms (exit ${this.proc.exitCode}):\n${this.lines.slice(-20).join("\n")}`);
  }

  async stop(): Promise<number | null> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill("SIGTERM");
    return this.#exited;
  }
}

type Controller = { pid: number; startedAt: number; readyAt: number; stop: () => Promise<unknown> };

async function startKubeGreen(plane: KubePlane): Promise<Controller> {
  // Its webhook server needs a serving certificate; nothing calls it (no webhook configuration).
  const pki = generatePki(join(plane.dir, "kube-green-pki"));
  const startedAt = Date.now();
  const child = new Child(
    kubeGreenBin,
    [
      "--metrics-bind-address=0",
      "--health-probe-bind-address=0",
      "--leader-elect=false",
      "--webhook-host=127.0.0.1",
      `--webhook-server-port=${await freePort()}`,
      `--webhook-cert-path=${pki.dir}`,
      "--webhook-cert-name=webhook.crt",
      "--webhook-cert-key=webhook.key",
      "--sleep-delta=60",
    ],
    { KUBECONFIG: plane.kubeconfigPath },
    join(plane.dir, "logs", "kube-green.log"),
  );
  await child.waitFor((l) => l.includes("Starting workers"), "Starting workers", 120_000);
  return { pid: child.proc.pid!, startedAt, readyAt: Date.now(), stop: () => child.stop() };
}

async function startReclaimer(plane: KubePlane): Promise<Controller> {
  const daemon = new BenchDaemon(entry!.path, ["--kubeconfig", plane.kubeconfigPath, "--confirm-stop-timeout", "24h"], daemonEnv());
  await daemon.waitForLog((l) => l.msg === "leading: reconciling", "leading: reconciling", 120_000);
  return { pid: daemon.proc.pid!, startedAt: daemon.spawnedAt, readyAt: Date.now(), stop: () => daemon.stop() };
}

async function runOne(tool: Tool, n: number): Promise<Run> {
  const plane = await startKubePlane({ log });
  const api = new Api(plane.kubeconfigPath);
  const watcher = new StopWatcher(api);
  let controller: Controller | undefined;
  let bare: Child | undefined;
  try {
    if (tool === "kube-green") await installKubeGreenCrd(api);
    log(`${tool} N=${n}: creating ${NAMESPACES} namespaces and ${n} InferenceServices`);
    const created = await populate(api, n, NAMESPACES);
    log(`${tool} N=${n}: created in ${created.seconds.toFixed(1)} s`);

    let boundary: number;
    if (tool === "bare") {
      boundary = nextBoundary(20_000);
      const startedAt = Date.now();
      bare = new Child(
        process.execPath,
        [join(ROOT, "test", "bench", "bare-patcher.ts"), plane.kubeconfigPath, String(boundary), "32"],
        {},
        join(plane.dir, "logs", "bare-patcher.log"),
      );
      const child = bare;
      controller = { pid: child.proc.pid!, startedAt, readyAt: startedAt, stop: () => child.stop() };
    } else if (tool === "kserve-reclaimer") {
      controller = await startReclaimer(plane);
      // As in boundary.bench.ts: the next whole minute at least 15 s away, an uptime window ending there.
      boundary = nextBoundary(15_000);
      const window = { days: "*", from: hhmm(boundary - 10 * 60_000), to: hhmm(boundary) };
      for (let i = 0; i < NAMESPACES; i++) {
        const ns = namespaceName(i);
        await api.must(
          "POST",
          `${SCHEDULE_PATH}/namespaces/${ns}/servingschedules`,
          servingSchedule(ns, "office-hours", { timeZone: "UTC", uptime: [window] }),
        );
      }
    } else {
      controller = await startKubeGreen(plane);
      // SleepInfos must be in more than --sleep-delta (60 s) before sleepAt, or kube-green acts at once.
      // 130 s: once, on a busy machine, 50 SleepInfos one after the other took more than 40 s.
      boundary = nextBoundary(130_000);
      const creating = Date.now();
      await parallel(
        Array.from({ length: NAMESPACES }, (_, i) => namespaceName(i)),
        8,
        async (ns) => {
          await api.must("POST", `/apis/kube-green.com/v1alpha1/namespaces/${ns}/sleepinfos`, sleepInfo(ns, hhmm(boundary)));
        },
      );
      if (boundary - Date.now() < 62_000)
        throw new Error(`the SleepInfos were created less than 62 s before sleepAt (creating them took ${Date.now() - creating} ms)`);
    }
    await watcher.start();
    log(`${tool} N=${n}: boundary at ${new Date(boundary).toISOString()}`);

    const pid = controller.pid;
    const planeProcs = pidsMentioning(plane.dir).filter((p) => p.name === "kube-apiserver" || p.name === "etcd");
    await sleepMs(boundary - 5_000 - Date.now());
    const reqFlip0 = await apiserverRequests(api, RESOURCES);
    const cpuFlip0 = procStats(pid).cpuSeconds;
    const planeCpu0 = cpuSnapshot(planeProcs);
    const flipStart = Date.now();
    const deadline = boundary + Math.max(60_000, n * 30);
    while (watcher.stoppedAt.size < n && Date.now() < deadline) {
      if (bare && bare.proc.exitCode !== null)
        throw new Error(`bare-patcher exited ${bare.proc.exitCode}:\n${bare.lines.slice(-20).join("\n")}`);
      await sleepMs(50);
    }
    await sleepMs(5_000);
    const reqFlip1 = await apiserverRequests(api, RESOURCES);
    const cpuFlip1 = procStats(pid).cpuSeconds;
    const planeCpu1 = cpuSnapshot(planeProcs);
    const flipSeconds = (Date.now() - flipStart) / 1000;
    const lags = [...watcher.stoppedAt.values()].map((t) => t - boundary).sort((a, b) => a - b);
    log(`${tool} N=${n}: first ${lags[0]} ms, last ${lags[lags.length - 1]} ms after the boundary; ${lags.length}/${n} stopped`);

    await sleepMs(settleSeconds * 1000);
    log(`${tool} N=${n}: at rest for ${restSeconds} s`);
    const reqRest0 = await apiserverRequests(api, RESOURCES);
    const cpuRest0 = procStats(pid).cpuSeconds;
    const restStart = Date.now();
    await sleepMs(restSeconds * 1000);
    const reqRest1 = await apiserverRequests(api, RESOURCES);
    const end = procStats(pid);
    const restMeasured = (Date.now() - restStart) / 1000;

    const flipRequests = diffCounts(reqFlip0, reqFlip1);
    const restRequests = diffCounts(reqRest0, reqRest1);
    return {
      tool,
      n,
      boundary: new Date(boundary).toISOString(),
      firstMs: lags[0] ?? NaN,
      p50Ms: quantile(lags, 0.5),
      p99Ms: quantile(lags, 0.99),
      lastMs: lags[lags.length - 1] ?? NaN,
      stopped: lags.length,
      createSeconds: created.seconds,
      flip: { seconds: flipSeconds, requests: flipRequests, byVerb: byVerb(flipRequests), cpuSeconds: round2(cpuFlip1 - cpuFlip0) },
      rest: { seconds: restMeasured, requests: restRequests, byVerb: byVerb(restRequests), cpuSeconds: round2(end.cpuSeconds - cpuRest0) },
      process: {
        peakRssMiB: Math.round(end.peakRssMiB),
        rssAtEndMiB: Math.round(end.rssMiB),
        cpuSecondsTotal: round2(end.cpuSeconds),
        startupToReadyMs: controller.readyAt - controller.startedAt,
      },
      planeCpuSecondsFlip: Object.fromEntries(Object.entries(planeCpu1).map(([k, v]) => [k, round2(v - (planeCpu0[k] ?? 0))])),
    };
  } finally {
    watcher.close();
    await controller?.stop();
    api.close();
    await plane.stop();
  }
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

const runs: Run[] = [];
const failures: string[] = [];
for (const n of counts) {
  for (const tool of tools) {
    // One failed run (a plane that would not start, a guard) must not lose the others' figures.
    try {
      const run = await runOne(tool, n);
      runs.push(run);
      log(
        `${tool} N=${n}: ${JSON.stringify({ ...run, flip: { ...run.flip, requests: undefined }, rest: { ...run.rest, requests: undefined } })}`,
      );
    } catch (err) {
      failures.push(`${tool} N=${n}: ${err instanceof Error ? err.message : String(err)}`);
      log(`${tool} N=${n} FAILED: ${failures.at(-1)}`);
    }
  }
}

const total = (r: Run | undefined, w: "flip" | "rest") => (r ? Object.values(r[w].byVerb).reduce((a, b) => a + b, 0) : NaN);
printTable(
  `Side by side: ${NAMESPACES} namespaces, a fresh etcd + kube-apiserver per run, no KServe controller; independent watch; at rest ${restSeconds} s`,
  runs.map((r) => ({
    N: r.n,
    tool: r.tool,
    "first (ms)": r.firstMs,
    "p50 (ms)": r.p50Ms,
    "last (ms)": r.lastMs,
    stopped: `${r.stopped}/${r.n}`,
    "flip requests": verbSummary(r.flip.requests),
    "at rest requests": verbSummary(r.rest.requests),
    "peak RSS (MiB)": r.process.peakRssMiB,
    "CPU s flip/rest/total": `${r.flip.cpuSeconds}/${r.rest.cpuSeconds}/${r.process.cpuSecondsTotal}`,
    "apiserver CPU s (flip)": r.planeCpuSecondsFlip["kube-apiserver"] ?? NaN,
  })),
);
const ratio = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? `${(a / b).toFixed(2)}×` : "-");
const ratios = counts.map((n) => {
  const of = (t: Tool) => runs.find((r) => r.n === n && r.tool === t);
  const rec = of("kserve-reclaimer");
  const kg = of("kube-green");
  const bare = of("bare");
  return {
    N: n,
    "last: reclaimer/kube-green": ratio(rec?.lastMs ?? NaN, kg?.lastMs ?? NaN),
    "last: reclaimer/bare": ratio(rec?.lastMs ?? NaN, bare?.lastMs ?? NaN),
    "p50: reclaimer/kube-green": ratio(rec?.p50Ms ?? NaN, kg?.p50Ms ?? NaN),
    "flip requests: reclaimer/kube-green": ratio(total(rec, "flip"), total(kg, "flip")),
    "peak RSS: reclaimer/kube-green": ratio(rec?.process.peakRssMiB ?? NaN, kg?.process.peakRssMiB ?? NaN),
    "CPU s flip: reclaimer/kube-green": ratio(rec?.flip.cpuSeconds ?? NaN, kg?.flip.cpuSeconds ?? NaN),
    "goal last ≤1.1× bare, ≤0.6× kube-green":
      rec && bare && kg ? (rec.lastMs <= 1.1 * bare.lastMs && rec.lastMs <= 0.6 * kg.lastMs ? "met" : "missed") : "-",
  };
});
printTable("Ratios (same run, same machine)", ratios);
writeResult("peers", {
  benchmark: "peers",
  machine: machine(),
  controlPlane: "etcd + kube-apiserver (no KServe controller), a fresh one per tool and N",
  namespaces: NAMESPACES,
  kubeGreen: KUBE_GREEN_VERSION,
  daemonEntry: entry?.kind,
  restSeconds,
  settleSeconds,
  resources: RESOURCES,
  runs,
  ratios,
});
if (failures.length > 0) {
  console.error(`${failures.length} run(s) failed:\n${failures.join("\n")}`);
  process.exitCode = 1;
}
