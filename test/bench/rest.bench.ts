// Benchmarks 2 and 3 (issue 6): cost at rest and start-up, at N = 1,000 and 10,000 services.
// N InferenceServices over 50 namespaces, one ServingSchedule per namespace with an idle policy
// and no uptime windows (always Running): every tick the daemon sends its one batched PromQL query
// and has nothing to do (the services have no Ready condition, so none is idle-eligible).
//
// - Start-up: from spawning the process to 'caches synced', to 'leading: reconciling' (timers
//   armed) and to /readyz answering 200.
// - At rest, over BENCH_REST_SECONDS (default 300) after a settling period: the apiserver's own
//   apiserver_request_total by verb for the daemon's resources (inferenceservices, servingschedules,
//   events; nobody else touches them meanwhile: this process sends nothing but GET /metrics), the
//   queries Prometheus served (prometheus_http_requests_total{handler="/api/v1/query"}), the
//   daemon's CPU seconds (/proc/<pid>/stat) and peak RSS (VmHWM).
//
// Control plane: etcd + kube-apiserver only (no KServe controller), a fresh one per N, plus a real
// Prometheus (Debian's binary) scraping nothing.
//
//   node test/bench/rest.bench.ts
//   BENCH_N=1000 BENCH_REST_SECONDS=60 node test/bench/rest.bench.ts
import { relative } from "node:path";
import { startKubePlane } from "../integration/kube-plane.ts";
import { startPrometheus } from "../support/prometheus.ts";
import {
  Api,
  apiserverRequests,
  BenchDaemon,
  daemonDefaults,
  daemonEntry,
  daemonEnv,
  diffCounts,
  envList,
  envNumber,
  log,
  machine,
  metricSum,
  namespaceName,
  populate,
  printTable,
  procStats,
  SCHEDULE_PATH,
  servingSchedule,
  sleepMs,
  sumVerbs,
  writeResult,
} from "./lib.ts";

const NAMESPACES = 50;
const RESOURCES = ["inferenceservices", "servingschedules", "events"];
const counts = envList("BENCH_N", [1000, 10000]);
const restSeconds = envNumber("BENCH_REST_SECONDS", 300);
const settleSeconds = envNumber("BENCH_SETTLE_SECONDS", 20);
const defaults = daemonDefaults();
const entry = daemonEntry("dist");

type Row = {
  n: number;
  startup: { cachesSyncedMs: number; leadingMs: number; readyzMs: number };
  restSeconds: number;
  apiserver: Record<string, number>;
  writes: number;
  lists: number;
  watches: number;
  promQueries: number;
  ticks: number;
  presets: number;
  cpuSeconds: number;
  cpuSecondsStartup: number;
  peakRssMiB: number;
  rssMiB: number;
  createSeconds: number;
};

async function promQueryCount(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return metricSum(text, "prometheus_http_requests_total", { handler: "/api/v1/query" });
}

async function runOne(n: number): Promise<Row> {
  const plane = await startKubePlane({ log });
  const prom = await startPrometheus({ scrapeTargets: [] });
  const api = new Api(plane.kubeconfigPath);
  let daemon: BenchDaemon | undefined;
  try {
    log(`N=${n}: creating ${NAMESPACES} namespaces and ${n} InferenceServices`);
    const created = await populate(api, n, NAMESPACES);
    log(`N=${n}: created in ${created.seconds.toFixed(1)} s (${created.perSecond.toFixed(0)}/s)`);
    for (let i = 0; i < NAMESPACES; i++) {
      const ns = namespaceName(i);
      await api.must(
        "POST",
        `${SCHEDULE_PATH}/namespaces/${ns}/servingschedules`,
        servingSchedule(ns, "idle", { idle: { after: "30m", metric: "kserve" } }),
      );
    }
    daemon = new BenchDaemon(entry.path, ["--kubeconfig", plane.kubeconfigPath, "--prometheus-url", prom.url], daemonEnv());
    const d = daemon;
    const spawnedAt = d.spawnedAt;
    const synced = await d.waitForLog((l) => l.msg === "caches synced", "caches synced", 120_000);
    const leading = await d.waitForLog((l) => l.msg === "leading: reconciling", "leading: reconciling", 120_000);
    let readyzAt = NaN;
    for (const deadline = Date.now() + 120_000; Date.now() < deadline; ) {
      if (d.port !== undefined) {
        const res = await fetch(`http://127.0.0.1:${d.port}/readyz`).catch(() => undefined);
        if (res?.status === 200) {
          readyzAt = Date.now();
          break;
        }
      }
      await sleepMs(20);
    }
    const startup = {
      cachesSyncedMs: Date.parse(synced.time) - spawnedAt,
      leadingMs: Date.parse(leading.time) - spawnedAt,
      readyzMs: readyzAt - spawnedAt,
    };
    log(
      `N=${n}: caches synced ${startup.cachesSyncedMs} ms, leading ${startup.leadingMs} ms, /readyz 200 ${startup.readyzMs} ms after spawn`,
    );
    await sleepMs(settleSeconds * 1000);
    const pid = d.proc.pid!;
    const cpuStartup = procStats(pid).cpuSeconds;
    const reqBefore = await apiserverRequests(api, RESOURCES);
    const qBefore = await promQueryCount(prom.url);
    const t0 = Date.now();
    log(`N=${n}: at rest for ${restSeconds} s`);
    await sleepMs(restSeconds * 1000);
    const elapsed = (Date.now() - t0) / 1000;
    const cpuAfter = procStats(pid);
    const reqAfter = await apiserverRequests(api, RESOURCES);
    const qAfter = await promQueryCount(prom.url);
    const apiserver = diffCounts(reqBefore, reqAfter);
    const row: Row = {
      n,
      startup,
      restSeconds: elapsed,
      apiserver,
      writes: sumVerbs(apiserver, ["POST", "PUT", "PATCH", "DELETE", "APPLY"]),
      lists: sumVerbs(apiserver, ["LIST"]),
      watches: sumVerbs(apiserver, ["WATCH"]),
      promQueries: qAfter - qBefore,
      ticks: elapsed / (defaults.idleIntervalMs / 1000),
      presets: 1,
      cpuSeconds: cpuAfter.cpuSeconds - cpuStartup,
      cpuSecondsStartup: cpuStartup,
      peakRssMiB: cpuAfter.peakRssMiB,
      rssMiB: cpuAfter.rssMiB,
      createSeconds: created.seconds,
    };
    log(`N=${n}: ${JSON.stringify(row)}`);
    return row;
  } finally {
    await daemon?.stop();
    api.close();
    await prom.stop();
    await plane.stop();
  }
}

const rows: Row[] = [];
for (const n of counts) rows.push(await runOne(n));
printTable(
  `Start-up (daemon from ${entry.kind}: ${relative(process.cwd(), entry.path)}; etcd + kube-apiserver only, no KServe controller; ${NAMESPACES} namespaces, one idle-policy schedule each)`,
  rows.map((r) => ({
    N: r.n,
    "caches synced (ms)": r.startup.cachesSyncedMs,
    "leading (ms)": r.startup.leadingMs,
    "/readyz 200 (ms)": r.startup.readyzMs,
    "CPU s (start + settle)": r.cpuSecondsStartup,
    target: r.n >= 10000 ? (r.startup.readyzMs < 10_000 ? "ok (<10 s)" : "MISSED (<10 s)") : "-",
  })),
);
printTable(
  `At rest (${restSeconds} s, --idle-interval ${defaults.idleIntervalMs / 1000}s, after ${settleSeconds} s settling)`,
  rows.map((r) => ({
    N: r.n,
    seconds: Math.round(r.restSeconds),
    writes: r.writes,
    LISTs: r.lists,
    WATCHes: r.watches,
    "apiserver by verb":
      Object.entries(r.apiserver)
        .map(([k, v]) => `${k}=${v}`)
        .join(" ") || "none",
    "PromQL queries": r.promQueries,
    ticks: Math.round(r.ticks * 10) / 10,
    "CPU s": r.cpuSeconds,
    "CPU %": (100 * r.cpuSeconds) / r.restSeconds,
    "peak RSS (MiB)": r.peakRssMiB,
    "RSS (MiB)": r.rssMiB,
    "RSS target": r.n >= 10000 ? (r.peakRssMiB < 150 ? "ok (<150 MiB)" : "MISSED (<150 MiB)") : "-",
  })),
);
writeResult(process.env["BENCH_RESULT_NAME"] ?? "rest", {
  benchmark: "rest+startup",
  machine: machine(),
  controlPlane: "etcd + kube-apiserver (no KServe controller) + Prometheus",
  daemonEntry: entry.kind,
  namespaces: NAMESPACES,
  daemonDefaults: defaults,
  restSeconds,
  settleSeconds,
  rows,
});
