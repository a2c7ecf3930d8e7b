// The daemon against the real control plane: real kube-apiserver, the real KServe controller
// reacting to serving.kserve.io/stop, kwok GPU nodes, a real Prometheus scraping the traffic
// simulator. Scenarios run concurrently, each in its own namespace, around three schedule
// boundaries B0, B1 = B0+60 s, B2 = B0+120 s a few seconds in the future.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import type { KubernetesObject } from "@kubernetes/client-node";
import { clusterFromEnv } from "../support/cluster.ts";
import { eventually, readOrUndefined, mergePatch, condition, type InferenceService } from "../support/kube.ts";
import { SimulatorClient } from "../support/simulator.ts";
import { startPrometheus, type RunningPrometheus } from "../support/prometheus.ts";
import {
  DaemonProcess,
  kube,
  installCrd,
  apply,
  createNamespace,
  gpuService,
  schedule,
  hhmm,
  localMinute,
  nextBoundary,
  sleepUntil,
  metricValue,
} from "../support/daemon.ts";

const cluster = clusterFromEnv();
const { kc, objects } = kube(cluster.kubeconfigPath);
const sim = new SimulatorClient(cluster.simulatorUrl);
const run = `d${Date.now().toString(36).slice(-5)}`;
const ns = (s: string) => `${run}-${s}`;

const B0 = nextBoundary(50_000);
const B1 = B0 + 60_000;
const B2 = B0 + 120_000;
const W1 = { days: "*", from: hhmm(B0 - 5 * 60_000), to: hhmm(B0) };
const W2 = { days: "*", from: hhmm(B1), to: hhmm(B2) };

const STOP = "serving.kserve.io/stop";
const STATE = "reclaimer.dev/state";

type Isvc = InferenceService & { metadata: { annotations?: Record<string, string> } };
const readIsvc = (namespace: string, name: string) =>
  readOrUndefined<Isvc>(objects, { apiVersion: "serving.kserve.io/v1beta1", kind: "InferenceService", metadata: { name, namespace } });
const annotations = async (namespace: string, name: string) => (await readIsvc(namespace, name))?.metadata.annotations ?? {};
const record = async (namespace: string, name: string) => {
  const raw = (await annotations(namespace, name))[STATE];
  return raw === undefined
    ? undefined
    : (JSON.parse(raw) as { action: string; reason: string; schedule: string; at: string; transition?: string; until?: string });
};
const readSchedule = (namespace: string, name: string) =>
  readOrUndefined<
    KubernetesObject & {
      status?: Record<string, unknown> & {
        conditions?: { type: string; status: string; reason: string; message: string }[];
        services?: { name: string; state: string; reason: string; confirmed: boolean }[];
      };
    }
  >(objects, { apiVersion: "reclaimer.dev/v1alpha1", kind: "ServingSchedule", metadata: { name, namespace } });
async function events(namespace: string, name: string): Promise<{ reason: string; type: string; message: string; count: number }[]> {
  const list = await objects.list<
    KubernetesObject & { reason: string; type: string; message: string; count?: number; involvedObject: { name: string } }
  >("v1", "Event", namespace);
  return list.items
    .filter((e) => e.involvedObject.name === name)
    .map((e) => ({ reason: e.reason, type: e.type, message: e.message, count: e.count ?? 1 }));
}
const pods = async (namespace: string, name: string) =>
  (
    await objects.list<KubernetesObject & { status?: { phase?: string } }>(
      "v1",
      "Pod",
      namespace,
      undefined,
      undefined,
      undefined,
      undefined,
      `serving.kserve.io/inferenceservice=${name}`,
    )
  ).items;

async function ready(namespace: string, name: string, timeoutMs = 90_000): Promise<void> {
  await eventually(`${namespace}/${name} Ready=True`, async () => condition(await readIsvc(namespace, name), "Ready")?.status === "True", {
    timeoutMs,
  });
}
async function stoppedByKServe(namespace: string, name: string, timeoutMs = 30_000): Promise<void> {
  await eventually(
    `${namespace}/${name} Stopped=True, Ready=False and no pods`,
    async () => {
      const i = await readIsvc(namespace, name);
      return (
        condition(i, "Stopped")?.status === "True" &&
        condition(i, "Ready")?.status === "False" &&
        (await pods(namespace, name)).length === 0
      );
    },
    { timeoutMs },
  );
}
/** Polls the object every 100 ms from `from` and returns when the stop annotation first has `value`. */
async function firstSeen(namespace: string, name: string, value: string, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await annotations(namespace, name))[STOP] === value) return Date.now();
    await sleep(100);
  }
  throw new Error(`${namespace}/${name}: ${STOP} never became "${value}"`);
}

let daemon: DaemonProcess;

describe("the daemon against KServe, kwok GPUs and Prometheus", { concurrency: true, timeout: 420_000 }, () => {
  before(async () => {
    await installCrd(kc);
    for (const s of ["a", "b", "c", "d", "e", "f", "g", "k", "l", "m"]) await createNamespace(objects, ns(s));
    const services: [string, string, Record<string, string>?][] = [
      ["a", "llama"],
      ["b", "warm"],
      ["c", "maint"],
      ["d", "manual"],
      ["e", "person"],
      ["f", "keep"],
      ["g", "quiet"],
      ["g", "busy"],
    ];
    for (const [s, name] of services) await apply(objects, gpuService(ns(s), name));
    await apply(objects, gpuService(ns("m"), "mesh", { annotations: { "serving.kserve.io/deploymentMode": "ModelMesh" } }));
    await apply(objects, gpuService(ns("k"), "shared", { gpus: 0, labels: { team: "nlp" } }));
    await Promise.all(services.map(([s, name]) => ready(ns(s), name)));

    await apply(objects, schedule(ns("a"), "office-hours", { uptime: [W1, W2] }));
    await apply(objects, schedule(ns("b"), "warm", { uptime: [W1, { days: "*", from: hhmm(B2), to: hhmm(B2 + 120_000) }], warmup: "1m" }));
    await apply(
      objects,
      schedule(ns("c"), "maintenance", {
        uptime: [{ days: "*", from: "00:00", to: "24:00" }],
        exceptions: [{ from: localMinute(B0), to: localMinute(B1), state: "Stopped", reason: "Maintenance" }],
      }),
    );
    await apply(objects, schedule(ns("d"), "office-hours", { uptime: [W1, W2] }));
    await apply(objects, schedule(ns("e"), "office-hours", { uptime: [W1, W2] }));
    await apply(objects, schedule(ns("f"), "office-hours", { uptime: [W1, W2] }));
    await apply(objects, schedule(ns("g"), "idle", { idle: { after: "20s", threshold: 0, metric: "kserve" } }));
    await apply(objects, schedule(ns("m"), "nights", { uptime: [W1, W2] }));
    // Two schedules select ns-k/shared: the older governs (stops it at B0), the newer would keep it up.
    await apply(objects, schedule(ns("k"), "older", { selector: { matchLabels: { team: "nlp" } }, uptime: [W1, W2] }));
    await sleep(1_100); // creationTimestamp has a resolution of one second
    await apply(objects, schedule(ns("k"), "newer", { uptime: [{ days: "*", from: "00:00", to: "24:00" }] }));

    daemon = new DaemonProcess("daemon", [
      "--kubeconfig",
      cluster.kubeconfigPath,
      "--prometheus-url",
      cluster.prometheusUrl,
      "--idle-interval",
      "2s",
      "--confirm-stop-timeout",
      "60s",
      "--namespaces",
      ["a", "b", "c", "d", "e", "f", "g", "k", "l", "m"].map(ns).join(","),
    ]);
    await daemon.ready();
  });

  after(async () => {
    const code = await daemon?.stop("SIGTERM");
    assert.equal(code, 0, "SIGTERM ends the daemon cleanly");
    assert.ok(daemon.logs.some((l) => l.msg === "stopped"));
  });

  test("office hours: stopped at the boundary within 1 s, KServe frees the GPU, started at the next boundary and Ready", async () => {
    const [n, s] = [ns("a"), "llama"];
    await sleepUntil(B0 - 2_000);
    assert.notEqual((await annotations(n, s))[STOP], "true", "still running before the boundary");
    const seen = await firstSeen(n, s, "true", 20_000);
    assert.ok(seen - B0 <= 1_000, `annotation seen ${seen - B0} ms after the boundary`);
    const r = await record(n, s);
    assert.equal(r?.action, "stop");
    assert.equal(r?.reason, "Schedule");
    assert.equal(r?.transition, new Date(B0).toISOString());
    await stoppedByKServe(n, s);
    const st = await eventually("status shows the service stopped and confirmed", async () => {
      const sc = await readSchedule(n, "office-hours");
      const svc = sc?.status?.services?.find((x) => x.name === s);
      return svc?.state === "Stopped" && svc.confirmed ? sc : undefined;
    });
    assert.equal(st.status?.["gpusReclaimed"], 1);
    assert.equal(condition(st as never, "Ready")?.status, "True");
    // one Event on the schedule for its transition (and one for KServe's confirmations), none on the service
    await eventually("a Stopped Event on the schedule naming the service", async () =>
      (await events(n, "office-hours")).some((e) => e.reason === "Stopped" && e.message.endsWith(`: ${n}/${s}`)),
    );
    await eventually("a StopConfirmed Event on the schedule", async () =>
      (await events(n, "office-hours")).some((e) => e.reason === "StopConfirmed" && e.message.endsWith(`: ${n}/${s}`)),
    );
    assert.ok(!(await events(n, s)).some((e) => e.reason === "Stopped" || e.reason === "StopConfirmed"), "no Event on the service");

    const started = await firstSeen(n, s, "false", 75_000);
    assert.ok(started - B1 <= 1_000 && started >= B1, `started ${started - B1} ms after B1`);
    await ready(n, s);
    assert.equal((await record(n, s))?.action, "start");
  });

  test("warmup starts the service a minute before its window opens", async () => {
    const [n, s] = [ns("b"), "warm"];
    await firstSeen(n, s, "true", B0 - Date.now() + 10_000);
    await stoppedByKServe(n, s);
    const started = await firstSeen(n, s, "false", B1 - Date.now() + 10_000);
    assert.ok(started >= B1 && started - B1 <= 1_000, `started ${started - B1} ms after B1 (window opens at B2)`);
    assert.equal((await record(n, s))?.reason, "Warmup");
    await ready(n, s);
  });

  test("an exception beats the uptime window", async () => {
    const [n, s] = [ns("c"), "maint"];
    await firstSeen(n, s, "true", B0 - Date.now() + 10_000);
    const r = await record(n, s);
    assert.equal(r?.reason, "Exception");
    await stoppedByKServe(n, s);
    await eventually("the schedule's Stopped Event names the exception", async () =>
      (await events(n, "maintenance")).some((e) => e.reason === "Stopped" && e.message.includes('exception "Maintenance"')),
    );
    await firstSeen(n, s, "false", B1 - Date.now() + 10_000);
    await ready(n, s);
  });

  test("a service a person stopped is never started by the daemon", async () => {
    const [n, s] = [ns("d"), "manual"];
    await mergePatch(objects, {
      apiVersion: "serving.kserve.io/v1beta1",
      kind: "InferenceService",
      metadata: { name: s, namespace: n, annotations: { [STOP]: "true" } },
    });
    await stoppedByKServe(n, s);
    await sleepUntil(B1 + 8_000);
    const a = await annotations(n, s);
    assert.equal(a[STOP], "true", "still stopped after the Running transition");
    assert.equal(a[STATE], undefined, "the daemon wrote nothing");
    assert.ok((await events(n, s)).some((e) => e.reason === "Skipped" && e.message.includes("ManualStop")));
  });

  test("a service a person started while the daemon had it stopped stays up until the next transition", async () => {
    const [n, s] = [ns("e"), "person"];
    await firstSeen(n, s, "true", B0 - Date.now() + 10_000);
    await stoppedByKServe(n, s);
    await mergePatch(objects, {
      apiVersion: "serving.kserve.io/v1beta1",
      kind: "InferenceService",
      metadata: { name: s, namespace: n, annotations: { [STOP]: "false" } },
    });
    const held = await eventually("hold recorded", async () => {
      const r = await record(n, s);
      return r?.action === "hold" ? r : undefined;
    });
    assert.equal(held.until, new Date(B1).toISOString());
    await ready(n, s);
    await sleepUntil(B1 - 3_000);
    assert.equal((await annotations(n, s))[STOP], "false", "left up until the next transition");
    // B1 opens the window anyway; at B2 the schedule stops it again.
    const stopped = await firstSeen(n, s, "true", B2 - Date.now() + 10_000);
    assert.ok(stopped >= B2);
  });

  test("keep-running-until starts a stopped service at once", async () => {
    const [n, s] = [ns("f"), "keep"];
    await firstSeen(n, s, "true", B0 - Date.now() + 10_000);
    await stoppedByKServe(n, s);
    const until = new Date(Date.now() + 40_000).toISOString();
    const asked = Date.now();
    await mergePatch(objects, {
      apiVersion: "serving.kserve.io/v1beta1",
      kind: "InferenceService",
      metadata: { name: s, namespace: n, annotations: { "reclaimer.dev/keep-running-until": until } },
    });
    const started = await firstSeen(n, s, "false", 10_000);
    assert.ok(started - asked < 3_000, `started ${started - asked} ms after keep-running-until was set`);
    assert.equal((await record(n, s))?.reason, "KeepRunningUntil");
    await ready(n, s);
  });

  test("idle: stopped after traffic stops, never while traffic flows", async () => {
    const n = ns("g");
    await sim.send(`${n}/quiet`, { rps: 5, seconds: 20 });
    await sim.send(`${n}/busy`, { rps: 5, seconds: 300 });
    const trafficEnds = Date.now() + 20_000;
    // Not before `after` (20 s) has passed without requests.
    await sleepUntil(trafficEnds + 10_000);
    assert.notEqual((await annotations(n, "quiet"))[STOP], "true", "not stopped while requests are inside the window");
    const stoppedAt = await firstSeen(n, "quiet", "true", 60_000);
    const late = stoppedAt - (trafficEnds + 20_000);
    assert.ok(late < 2_000 + 2_000 + 3_000, `idle stop ${late} ms after idle.after elapsed (tick 2 s, scrape 1 s)`);
    assert.equal((await record(n, "quiet"))?.reason, "Idle");
    await stoppedByKServe(n, "quiet");
    assert.notEqual((await annotations(n, "busy"))[STOP], "true", "the busy one keeps running");
    const sc = await readSchedule(n, "idle");
    assert.equal(condition(sc as never, "MetricsAvailable")?.status, "True");
    await sim.stop(`${n}/busy`);
  });

  test("an invalid schedule is rejected by the CRD or reported in status; the others keep working", async () => {
    const n = ns("l");
    await assert.rejects(
      apply(objects, schedule(n, "empty-window", { uptime: [{ days: "Mon", from: "08:00", to: "08:00" }] })),
      /to must differ from from/,
    );
    await apply(objects, schedule(n, "mars", { timeZone: "Mars/Olympus_Mons", uptime: [W1] }));
    const sc = await eventually("Valid=False in status", async () => {
      const s = await readSchedule(n, "mars");
      return condition(s as never, "Valid")?.status === "False" ? s : undefined;
    });
    assert.match(condition(sc as never, "Valid")?.message ?? "", /timeZone/);
    assert.ok((await events(n, "mars")).some((e) => e.type === "Warning" && e.reason === "Invalid"));
    assert.equal(daemon.proc.exitCode, null, "the daemon is still running");
  });

  test("two schedules select one service: the oldest governs, the conflict is reported", async () => {
    const [n, s] = [ns("k"), "shared"];
    await eventually("ScheduleConflict on the service", async () =>
      (await events(n, s)).some((e) => e.type === "Warning" && e.reason === "ScheduleConflict" && e.message.includes(`${n}/older governs`)),
    );
    await eventually("ScheduleConflict on the overruled schedule", async () =>
      (await events(n, "newer")).some((e) => e.reason === "ScheduleConflict"),
    );
    await firstSeen(n, s, "true", B0 - Date.now() + 10_000);
    assert.equal((await record(n, s))?.schedule, `${n}/older`);
  });

  test("a ModelMesh-mode service is reported as unsupported and left alone", async () => {
    const [n, s] = [ns("m"), "mesh"];
    await eventually("Unsupported event", async () => (await events(n, s)).some((e) => e.type === "Warning" && e.reason === "Unsupported"));
    await sleepUntil(B0 + 3_000);
    assert.equal((await annotations(n, s))[STOP], undefined, "no stop annotation on a ModelMesh service");
    const sc = await readSchedule(n, "nights");
    assert.equal(sc?.status?.services?.find((x) => x.name === s)?.reason, "Unsupported");
  });
});

describe("the daemon around failures", { concurrency: true, timeout: 420_000 }, () => {
  const procs: DaemonProcess[] = [];
  let prom: RunningPrometheus | undefined;
  // Boundaries are fixed when this suite starts, after the one above has finished.
  let C0 = 0;

  before(async () => {
    C0 = nextBoundary(60_000);
    const CW1 = { days: "*", from: hhmm(C0 - 5 * 60_000), to: hhmm(C0) };
    const CW2 = { days: "*", from: hhmm(C0 + 60_000), to: hhmm(C0 + 120_000) };
    await installCrd(kc);
    for (const s of ["h", "i", "j"]) await createNamespace(objects, ns(s));
    await apply(objects, gpuService(ns("h"), "chat"));
    await apply(objects, gpuService(ns("i"), "restart"));
    await apply(objects, gpuService(ns("j"), "leader"));
    await Promise.all([ready(ns("h"), "chat"), ready(ns("i"), "restart"), ready(ns("j"), "leader")]);
    await apply(
      objects,
      schedule(ns("h"), "idle", { idle: { after: "20s", threshold: 0, metric: "kserve", whenMetricsUnavailable: "KeepRunning" } }),
    );
    await apply(objects, schedule(ns("i"), "office-hours", { uptime: [CW1, CW2] }));
    await apply(objects, schedule(ns("j"), "office-hours", { uptime: [CW1, CW2] }));
  });

  after(async () => {
    await Promise.all(procs.map((p) => p.stop("SIGKILL")));
    await prom?.stop();
  });

  test("Prometheus down: no stop, MetricsAvailable=False, then recovery", async () => {
    const n = ns("h");
    prom = await startPrometheus({ scrapeTargets: [new URL(cluster.simulatorUrl).host] });
    const port = prom.port;
    const d = new DaemonProcess("daemon-h", [
      "--kubeconfig",
      cluster.kubeconfigPath,
      "--prometheus-url",
      prom.url,
      "--idle-interval",
      "2s",
      "--prometheus-timeout",
      "2s",
      "--namespaces",
      n,
    ]);
    procs.push(d);
    await d.ready();
    await sim.send(`${n}/chat`, { rps: 5, seconds: 8 });
    await sleep(6_000);
    await prom.stop();
    const sc = await eventually(
      "MetricsAvailable=False",
      async () => {
        const s = await readSchedule(n, "idle");
        return condition(s as never, "MetricsAvailable")?.status === "False" ? s : undefined;
      },
      { timeoutMs: 20_000 },
    );
    // Prometheus may die mid-request (reset) or before it (refused); either way the message names it and why.
    const down = condition(sc as never, "MetricsAvailable")?.message ?? "";
    assert.ok(down.includes(`127.0.0.1:${port}`), down);
    assert.match(down, /ECONNREFUSED|ECONNRESET|socket hang up|connect|fetch/i);
    assert.ok((await events(n, "idle")).some((e) => e.reason === "MetricsUnavailable"));
    // Well past idle.after with no data: unknown is not zero, nothing is stopped.
    await sleep(30_000);
    assert.notEqual((await annotations(n, "chat"))[STOP], "true", "no data never stops a service");
    prom = await startPrometheus({ scrapeTargets: [new URL(cluster.simulatorUrl).host], port });
    await eventually(
      "MetricsAvailable=True again",
      async () => condition((await readSchedule(n, "idle")) as never, "MetricsAvailable")?.status === "True",
      { timeoutMs: 30_000 },
    );
    // With data back and no traffic, the idle rule applies again.
    await firstSeen(n, "chat", "true", 60_000);
    assert.equal((await record(n, "chat"))?.reason, "Idle");
  });

  test("daemon killed across a boundary: caught up on restart, nothing done twice", async () => {
    const n = ns("i");
    const args = ["--kubeconfig", cluster.kubeconfigPath, "--namespaces", n];
    const first = new DaemonProcess("daemon-i1", args);
    procs.push(first);
    await first.ready();
    await sleepUntil(C0 - 5_000);
    await first.stop("SIGKILL");
    await sleepUntil(C0 + 5_000);
    assert.notEqual((await annotations(n, "restart"))[STOP], "true", "nobody acted while the daemon was down");
    const second = new DaemonProcess("daemon-i2", args);
    procs.push(second);
    await second.ready();
    await firstSeen(n, "restart", "true", 10_000);
    const r = await record(n, "restart");
    assert.equal(r?.transition, new Date(C0).toISOString(), "the missed transition, caught up");
    const rv = (await readIsvc(n, "restart"))?.metadata?.resourceVersion;
    await stoppedByKServe(n, "restart");
    await second.stop("SIGTERM");
    const third = new DaemonProcess("daemon-i3", args);
    procs.push(third);
    await third.ready();
    await sleep(5_000);
    assert.equal((await record(n, "restart"))?.at, r?.at, "the record was not rewritten");
    assert.equal(third.logs.filter((l) => l.msg === "stop applied").length, 0, "no second stop");
    assert.ok(rv !== undefined);
    await third.stop("SIGTERM");
  });

  test("two daemons: one leader, no double action, failover when the leader dies", async () => {
    const n = ns("j");
    const args = (id: string) => [
      "--kubeconfig",
      cluster.kubeconfigPath,
      "--namespaces",
      n,
      "--leader-elect",
      "--leader-election-namespace",
      n,
      "--identity",
      id,
    ];
    const a = new DaemonProcess("daemon-j-a", args("a"));
    const b = new DaemonProcess("daemon-j-b", args("b"));
    procs.push(a, b);
    await Promise.all([a.ready(), b.ready()]);
    const leading = () => [a, b].filter((d) => d.logs.some((l) => l.msg === "leading: reconciling"));
    await eventually("one leader", async () => leading().length === 1, { timeoutMs: 30_000 });
    const [leader] = leading();
    const standby = leader === a ? b : a;
    await firstSeen(n, "leader", "true", C0 - Date.now() + 10_000);
    await sleep(3_000);
    const stops = (d: DaemonProcess) => d.logs.filter((l) => l.msg === "stop applied").length;
    assert.equal(stops(leader!) + stops(standby), 1, "exactly one stop across both daemons");
    assert.equal(stops(standby), 0, "the standby did nothing");
    await leader!.stop("SIGKILL");
    await standby.waitForLog((l) => l.msg === "leading: reconciling", "standby takes over", 40_000);
    await firstSeen(n, "leader", "false", C0 + 60_000 - Date.now() + 10_000);
    // the daemon logs after the patch returns: the annotation can be read before the line arrives
    await standby.waitForLog((l) => l.msg === "start applied", "the new leader's start", 10_000);
    await sleep(2_000);
    assert.equal(standby.logs.filter((l) => l.msg === "start applied").length, 1, "the new leader started it once");
    const text = await standby.metrics();
    assert.equal(metricValue(text, "kserve_reclaimer_leader"), 1);
  });
});
