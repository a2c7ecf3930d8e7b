// Benchmark 4 (issue 6): idle detection. The full local cluster (test/support/cluster.ts: KServe in
// Standard mode, kwok nodes, the traffic simulator, Prometheus scraping it every second), 20
// InferenceServices without GPUs under one ServingSchedule with idle.after = 60s and the kserve
// preset, the daemon with its default --idle-interval. Each service gets traffic from the simulator
// for 30 s, which stops at a known instant T; an independent watch records when each service's
// serving.kserve.io/stop turns "true". We report the time from T + 60 s (idle.after elapsed) to
// the stop annotation, against the tick.
//
//   node test/bench/idle.bench.ts
import { startCluster } from "../support/cluster.ts";
import { SimulatorClient } from "../support/simulator.ts";
import { DaemonProcess, installCrd, kube } from "../support/daemon.ts";
import {
  Api,
  daemonDefaults,
  daemonEnv,
  envNumber,
  isvc,
  ISVC_PATH,
  log,
  machine,
  printTable,
  quantile,
  SCHEDULE_PATH,
  servingSchedule,
  sleepMs,
  StopWatcher,
  writeResult,
} from "./lib.ts";

const SERVICES = envNumber("BENCH_IDLE_SERVICES", 20);
const AFTER_S = 60;
const TRAFFIC_S = 30;
const NS = "bench-idle";
const defaults = daemonDefaults();
const idleInterval = process.env["BENCH_IDLE_INTERVAL"];
const tickMs = idleInterval ? Number(/^(\d+)s$/.exec(idleInterval)?.[1] ?? NaN) * 1000 : defaults.idleIntervalMs;

type Condition = { type: string; status: string };

const cluster = await startCluster({ log });
const api = new Api(cluster.kubeconfigPath);
const sim = new SimulatorClient(cluster.simulatorUrl);
let daemon: DaemonProcess | undefined;
const watcher = new StopWatcher(api);
try {
  await installCrd(kube(cluster.kubeconfigPath).kc); // the full cluster has KServe's CRDs, not ours
  await api.must("POST", "/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: NS } });
  await api.must(
    "POST",
    `${SCHEDULE_PATH}/namespaces/${NS}/servingschedules`,
    servingSchedule(NS, "idle", { idle: { after: `${AFTER_S}s`, threshold: 0, metric: "kserve" } }),
  );
  const names = Array.from({ length: SERVICES }, (_, i) => `model-${String(i).padStart(2, "0")}`);
  for (const name of names) await api.must("POST", `${ISVC_PATH}/namespaces/${NS}/inferenceservices`, isvc(NS, name, 0));
  const flags = ["--kubeconfig", cluster.kubeconfigPath, "--prometheus-url", cluster.prometheusUrl, "--namespaces", NS];
  if (idleInterval) flags.push("--idle-interval", idleInterval);
  daemon = new DaemonProcess("daemon-idle", flags, daemonEnv());
  await daemon.waitForLog((l) => l.msg === "leading: reconciling", "leading: reconciling", 60_000);
  log(`waiting for ${SERVICES} services Ready=True (KServe + kwok)`);
  for (const deadline = Date.now() + 180_000; ; ) {
    const list = (await api.must("GET", `${ISVC_PATH}/namespaces/${NS}/inferenceservices`)) as {
      items: { status?: { conditions?: Condition[] } }[];
    };
    const ready = list.items.filter((i) => i.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True")).length;
    if (ready === SERVICES) break;
    if (Date.now() > deadline) throw new Error(`only ${ready}/${SERVICES} Ready after 180 s`);
    await sleepMs(500);
  }
  await watcher.start();
  const trafficEnds = new Map<string, number>();
  for (const name of names) {
    const before = Date.now();
    await sim.send(`${NS}/${name}`, { rps: 2, seconds: TRAFFIC_S });
    trafficEnds.set(`${NS}/${name}`, Math.round((before + Date.now()) / 2) + TRAFFIC_S * 1000);
  }
  const lastEnd = Math.max(...trafficEnds.values());
  log(`traffic ends at ${new Date(lastEnd).toISOString()}; idle.after ${AFTER_S}s; tick ${tickMs / 1000}s`);
  const deadline = lastEnd + AFTER_S * 1000 + 3 * tickMs + 30_000;
  while (watcher.stoppedAt.size < SERVICES && Date.now() < deadline) await sleepMs(200);
  const lags = names.map((n) => {
    const k = `${NS}/${n}`;
    const at = watcher.stoppedAt.get(k);
    return at === undefined ? NaN : at - (trafficEnds.get(k)! + AFTER_S * 1000);
  });
  const sorted = lags.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  const early = sorted.filter((x) => x < 0).length;
  const result = {
    services: SERVICES,
    stopped: sorted.length,
    afterSeconds: AFTER_S,
    tickMs,
    scrapeIntervalMs: 1000,
    minMs: sorted[0] ?? NaN,
    medianMs: quantile(sorted, 0.5),
    maxMs: sorted[sorted.length - 1] ?? NaN,
    early,
    lagsMs: lags,
    stopReasons: daemon.logs.filter((l) => l.msg === "stop applied").map((l) => l["reason"]),
  };
  printTable(
    `Idle detection (full cluster: KServe Standard mode, kwok, simulator, Prometheus scrape 1 s; ${SERVICES} services, idle.after ${AFTER_S}s, --idle-interval ${tickMs / 1000}s)`,
    [
      {
        services: SERVICES,
        stopped: `${sorted.length}/${SERVICES}`,
        "min (ms)": result.minMs,
        "median (ms)": result.medianMs,
        "max (ms)": result.maxMs,
        "tick (ms)": tickMs,
        "stopped early": early,
        target: result.maxMs <= tickMs && early === 0 ? "ok (<= one tick)" : "MISSED (<= one tick)",
      },
    ],
  );
  writeResult(process.env["BENCH_RESULT_NAME"] ?? "idle", {
    benchmark: "idle",
    machine: machine(),
    controlPlane: "full cluster (KServe v0.16 Standard, kwok, simulator, Prometheus)",
    daemonDefaults: defaults,
    ...result,
  });
} finally {
  watcher.close();
  await daemon?.stop();
  api.close();
  await cluster.stop();
}
