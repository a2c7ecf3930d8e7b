// Benchmark 1 (issue 6): boundary lag. N InferenceServices over 50 namespaces, one ServingSchedule
// per namespace whose uptime window ends at the next whole minute (a Running -> Stopped boundary a
// few seconds ahead). An independent watch (ours, not the daemon's) records when each service's
// serving.kserve.io/stop turns "true"; we report the time from the boundary to the first and the
// last annotation and the patches per second achieved.
//
// Control plane: etcd + kube-apiserver only (test/integration/kube-plane.ts), a fresh one per N,
// KServe's real InferenceService CRD installed but no KServe controller: nothing reconciles the
// services, which does not matter for the daemon's writes.
//
//   node test/bench/boundary.bench.ts                    # N = 100, 1000, 5000, daemon defaults
//   BENCH_N=1000 BENCH_KUBE_QPS=500 BENCH_KUBE_BURST=1000 node test/bench/boundary.bench.ts
import { startKubePlane } from "../integration/kube-plane.ts";
import { DaemonProcess, hhmm, nextBoundary } from "../support/daemon.ts";
import {
  Api,
  apiserverRequests,
  cpuSnapshot,
  daemonDefaults,
  daemonEnv,
  pidsMentioning,
  diffCounts,
  envList,
  log,
  machine,
  namespaceName,
  populate,
  printTable,
  quantile,
  ISVC_PATH,
  parallel,
  SCHEDULE_PATH,
  servingSchedule,
  sleepMs,
  StopWatcher,
  writeResult,
} from "./lib.ts";

const NAMESPACES = 50;
const counts = envList("BENCH_N", [100, 1000, 5000]);
const defaults = daemonDefaults();
const qpsFlag = process.env["BENCH_KUBE_QPS"];
const burstFlag = process.env["BENCH_KUBE_BURST"];
const qps = qpsFlag ? Number(qpsFlag) : defaults.kubeQps;
const burst = burstFlag ? Number(burstFlag) : defaults.kubeBurst;
const resultName = process.env["BENCH_RESULT_NAME"] ?? "boundary";

type Row = {
  n: number;
  qps: number;
  burst: number;
  firstMs: number;
  p50Ms: number;
  p99Ms: number;
  lastMs: number;
  patchesPerSecond: number;
  stopped: number;
  daemonMaxLagMs: number;
  writes: Record<string, number>;
  createSeconds: number;
  /** Merge patches/s a plain keep-alive client with 32 in flight gets from this apiserver (daemon stopped). */
  ceilingPatchesPerSecond?: number;
  /** CPU seconds used from 2 s before the boundary until the last annotation, per process and machine-wide (2 cores). */
  cpu: Record<string, number>;
};

async function runOne(n: number): Promise<Row> {
  const plane = await startKubePlane({ log });
  const api = new Api(plane.kubeconfigPath);
  let daemon: DaemonProcess | undefined;
  const watcher = new StopWatcher(api);
  try {
    log(`N=${n}: creating ${NAMESPACES} namespaces and ${n} InferenceServices`);
    const created = await populate(api, n, NAMESPACES);
    log(`N=${n}: created in ${created.seconds.toFixed(1)} s (${created.perSecond.toFixed(0)}/s)`);
    const flags = ["--kubeconfig", plane.kubeconfigPath];
    if (qpsFlag) flags.push("--kube-qps", qpsFlag);
    if (burstFlag) flags.push("--kube-burst", burstFlag);
    daemon = new DaemonProcess(`daemon-boundary-${n}`, flags, daemonEnv());
    await daemon.waitForLog((l) => l.msg === "leading: reconciling", "leading: reconciling", 120_000);
    // The boundary: the next whole minute at least 10 s away (schedules have minute resolution).
    const boundary = nextBoundary(10_000);
    const window = { days: "*", from: hhmm(boundary - 10 * 60_000), to: hhmm(boundary) };
    for (let i = 0; i < NAMESPACES; i++) {
      const ns = namespaceName(i);
      await api.must(
        "POST",
        `${SCHEDULE_PATH}/namespaces/${ns}/servingschedules`,
        servingSchedule(ns, "office-hours", { timeZone: "UTC", uptime: [window] }),
      );
    }
    await watcher.start();
    // Let the daemon settle on the new schedules (status writes, Running decisions) before the boundary.
    await sleepMs(boundary - Date.now() - 2_000);
    const before = await apiserverRequests(api, ["inferenceservices", "events", "servingschedules"]);
    const procs = [
      ...pidsMentioning(plane.dir).filter((p) => p.name === "etcd" || p.name === "kube-apiserver"),
      { pid: daemon.proc.pid!, name: "daemon" },
      { pid: process.pid, name: "bench (watch)" },
    ];
    const cpuBefore = cpuSnapshot(procs);
    log(`N=${n}: boundary at ${new Date(boundary).toISOString()}`);
    const deadline = boundary + Math.max(30_000, (n / qps) * 1000 * 3 + 10_000);
    while (watcher.stoppedAt.size < n && Date.now() < deadline) await sleepMs(50);
    const cpuAfter = cpuSnapshot(procs);
    const flipSeconds = (Date.now() - boundary + 2_000) / 1000;
    await sleepMs(3_000); // Events and status writes after the patches
    const after = await apiserverRequests(api, ["inferenceservices", "events", "servingschedules"]);
    const lags = [...watcher.stoppedAt.values()].map((t) => t - boundary).sort((a, b) => a - b);
    const first = lags[0] ?? NaN;
    const last = lags[lags.length - 1] ?? NaN;
    const daemonLags = daemon.logs
      .filter((l) => l.msg === "stop applied" && typeof l["lagMs"] === "number")
      .map((l) => l["lagMs"] as number);
    const row: Row = {
      n,
      qps,
      burst,
      firstMs: first,
      p50Ms: quantile(lags, 0.5),
      p99Ms: quantile(lags, 0.99),
      lastMs: last,
      patchesPerSecond: lags.length > 1 && last > first ? (lags.length - 1) / ((last - first) / 1000) : NaN,
      stopped: lags.length,
      daemonMaxLagMs: daemonLags.length ? Math.max(...daemonLags) : NaN,
      writes: diffCounts(before, after),
      createSeconds: created.seconds,
      cpu: {
        seconds: flipSeconds,
        ...Object.fromEntries(Object.entries(cpuAfter).map(([k, v]) => [k, Math.round((v - (cpuBefore[k] ?? 0)) * 100) / 100])),
      },
    };
    log(`N=${n}: first ${first} ms, last ${last} ms after the boundary; ${lags.length}/${n} stopped`);
    // The ceiling of this machine: the same number of annotation merge patches from a plain
    // keep-alive client (32 in flight, like the daemon's limiter), the daemon stopped.
    await daemon.stop();
    const items = [...watcher.stoppedAt.keys()];
    const c0 = Date.now();
    await parallel(items, 32, async (k) => {
      const [ns, name] = k.split("/");
      await api.must(
        "PATCH",
        `${ISVC_PATH}/namespaces/${ns}/inferenceservices/${name}`,
        { metadata: { annotations: { "bench.reclaimer.dev/ceiling": "1" } } },
        "application/merge-patch+json",
      );
    });
    row.ceilingPatchesPerSecond = items.length / ((Date.now() - c0) / 1000);
    log(`N=${n}: ceiling ${row.ceilingPatchesPerSecond.toFixed(0)} patches/s from a plain client`);
    return row;
  } finally {
    watcher.close();
    await daemon?.stop();
    api.close();
    await plane.stop();
  }
}

const rows: Row[] = [];
for (const n of counts) rows.push(await runOne(n));
printTable(
  `Boundary lag (Running -> Stopped at a minute boundary, ${NAMESPACES} namespaces, etcd + kube-apiserver only, no KServe controller; independent watch)`,
  rows.map((r) => ({
    N: r.n,
    "qps/burst": `${r.qps}/${r.burst}`,
    "first (ms)": r.firstMs,
    "p50 (ms)": r.p50Ms,
    "p99 (ms)": r.p99Ms,
    "last (ms)": r.lastMs,
    "patches/s": Math.round(r.patchesPerSecond),
    "ceiling patches/s": Math.round(r.ceilingPatchesPerSecond ?? NaN),
    stopped: `${r.stopped}/${r.n}`,
    "CPU s apiserver/etcd/daemon/machine": `${r.cpu["kube-apiserver"]}/${r.cpu["etcd"]}/${r.cpu["daemon"]}/${r.cpu["machine busy"]} in ${r.cpu["seconds"]?.toFixed(1)} s`,
    target:
      r.n === 1000
        ? r.lastMs <= 1000
          ? "ok (<=1 s)"
          : "MISSED (<=1 s)"
        : r.n === 5000
          ? r.lastMs <= 5000
            ? "ok (<=5 s)"
            : "MISSED (<=5 s)"
          : "-",
  })),
);
writeResult(resultName, {
  benchmark: "boundary",
  machine: machine(),
  controlPlane: "etcd + kube-apiserver (no KServe controller)",
  namespaces: NAMESPACES,
  daemonDefaults: defaults,
  rows,
});
