// InferenceServices in Knative (Serverless) mode, against the real KServe v0.16.0 controller and
// the real Knative Serving v0.44.0 controller and autoscaler, on a second plane started here with
// startCluster({ knative: true }) (the runner's plane has no Knative). The one stand-in: KIngresses
// are marked Ready, as a networking layer (Istio, Kourier) would, since none runs here.
// KServe's stop switch in this mode: serving.kserve.io/stop "true" deletes the Knative Service and
// KServe writes Stopped=True; "false" brings the Knative Service back and the service is Ready.
// One plane for the whole file (only one Knative plane fits a machine: the autoscaler binds :8080):
// KServe alone, and the real daemon (`kserve-reclaimer run`) and CLI around two schedule
// boundaries B0 and B1 = B0 + 60 s, each scenario in its own namespace, run side by side.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import type { KubernetesObject, KubernetesObjectApi, V1Pod } from "@kubernetes/client-node";
import { startCluster, type Cluster } from "../support/cluster.ts";
import {
  condition,
  eventually,
  gpuInferenceService,
  kubeClient,
  mergePatch,
  readOrUndefined,
  type InferenceService,
} from "../support/kube.ts";
import { DaemonProcess, apply, createNamespace, hhmm, installCrd, nextBoundary, schedule, sleepUntil } from "../support/daemon.ts";
import { SimulatorClient } from "../support/simulator.ts";

const STOP = "serving.kserve.io/stop";
const STATE = "reclaimer.dev/state";
const KEEP = "reclaimer.dev/keep-running-until";
const KSVC = "serving.knative.dev/v1";
const ISVC = "serving.kserve.io/v1beta1";
const KNATIVE_MODE = { "serving.kserve.io/deploymentMode": "Knative" };
const MAIN = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
const name = "sless";
const run = randomBytes(3).toString("hex");
const ns = `serverless-${run}`;
const ref = (apiVersion: string, kind: string, n: string) => ({ apiVersion, kind, metadata: { name: n, namespace: ns } });
type Ksvc = KubernetesObject & { status?: { conditions?: { type: string; status: string }[]; url?: string } };
type Isvc = InferenceService & { metadata: { annotations?: Record<string, string> } };
type DaemonRecord = { action: string; reason: string; schedule: string; at: string; transition?: string; until?: string };
type ScheduleStatus = {
  conditions?: { type: string; status: string; reason: string; message: string }[];
  services?: { name: string; state: string; reason: string; confirmed: boolean; gpus: number }[];
  gpusReclaimed?: number;
};

describe("KServe in Knative mode on real Knative Serving (startCluster({ knative: true }))", {
  concurrency: true,
  timeout: 900_000,
}, () => {
  let cluster: Cluster | undefined;
  let objects: KubernetesObjectApi;
  const parent = mkdtempSync(join(tmpdir(), "kserve-reclaimer-knative-"));

  // Any service of any namespace on this plane.
  const readIsvcIn = (namespace: string, n: string) =>
    readOrUndefined<Isvc>(objects, { apiVersion: ISVC, kind: "InferenceService", metadata: { name: n, namespace } });
  const readKsvcIn = (namespace: string, n: string) =>
    readOrUndefined<Ksvc>(objects, { apiVersion: KSVC, kind: "Service", metadata: { name: `${n}-predictor`, namespace } });
  const readyPodsIn = async (namespace: string, n: string) =>
    (
      await objects.list<V1Pod>(
        "v1",
        "Pod",
        namespace,
        undefined,
        undefined,
        undefined,
        undefined,
        `serving.kserve.io/inferenceservice=${n}`,
      )
    ).items.filter((p) => !p.metadata?.deletionTimestamp && p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"));
  const describeIn = (namespace: string, n: string) => async () => {
    const isvc = await readIsvcIn(namespace, n);
    const ksvc = await readKsvcIn(namespace, n);
    return `${namespace}/${n} annotations: ${JSON.stringify(isvc?.metadata.annotations)}\nisvc conditions: ${JSON.stringify(isvc?.status?.conditions)}\nksvc: ${ksvc ? JSON.stringify(ksvc.status?.conditions) : "absent"}`;
  };

  before(async () => {
    cluster = await startCluster({ knative: true, nodes: 2, dir: join(parent, "cluster"), log: () => {} });
    objects = kubeClient(cluster.kubeconfigPath).objects;
  });
  after(async () => {
    // KEEP_CLUSTER_DIR=1 (as for the runner's plane) keeps this plane's logs too.
    const keepDir = process.env["KEEP_CLUSTER_DIR"] === "1";
    await cluster?.stop({ keepDir });
    if (keepDir) process.stderr.write(`# Knative plane's logs kept in ${parent}/cluster/logs\n`);
    else rmSync(parent, { recursive: true, force: true });
  });

  describe("KServe alone", () => {
    const readIsvc = () => readIsvcIn(ns, name);
    const readKsvc = () => readKsvcIn(ns, name);
    const isvcCondition = async (type: string) => condition(await readIsvc(), type)?.status;
    const describeIt = describeIn(ns, name);
    const setStop = (value: "true" | "false") =>
      mergePatch(objects, {
        ...ref(ISVC, "InferenceService", name),
        metadata: { name, namespace: ns, annotations: { [STOP]: value } },
      });
    const readyPods = () => readyPodsIn(ns, name);

    before(async () => {
      await objects.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } } as KubernetesObject);
      await objects.create(gpuInferenceService(ns, name, { annotations: KNATIVE_MODE }));
    });

    test("the service runs as a Knative Service with a GPU pod and becomes Ready", async () => {
      const ksvc = await eventually(
        "Knative Service sless-predictor Ready",
        async () => {
          const k = await readKsvc();
          return condition(k, "Ready")?.status === "True" && k;
        },
        { timeoutMs: 120_000, describe: describeIt },
      );
      assert.match(ksvc.status?.url ?? "", new RegExp(`^http://${name}-predictor\\.${ns}\\.`));
      await eventually("InferenceService Ready=True", async () => (await isvcCondition("Ready")) === "True", {
        timeoutMs: 60_000,
        describe: describeIt,
      });
      const pods = await readyPods();
      assert.equal(pods.length, 1, "one Ready predictor pod (Knative's min-scale from minReplicas: 1)");
      assert.equal(pods[0]?.spec?.containers.find((c) => c.name === "kserve-container")?.resources?.requests?.["nvidia.com/gpu"], "1");
      assert.ok(
        pods[0]?.spec?.containers.some((c) => c.name === "queue-proxy"),
        "Knative's queue-proxy sidecar is in the pod",
      );
      assert.equal((await readIsvc())?.metadata?.annotations?.["serving.kserve.io/deploymentMode"], "Knative");
    });

    test("a second Knative plane is refused while this one's autoscaler holds :8080, before anything starts", async () => {
      const second = join(parent, "second");
      await assert.rejects(
        startCluster({ knative: true, nodes: 1, build: false, dir: second, log: () => {} }),
        /port 8080 is in use; Knative's autoscaler binds it/,
      );
      assert.equal(existsSync(second), false);
    });

    test('stop "true" deletes the Knative Service and KServe writes Stopped=True; "false" brings it back Ready', async () => {
      await setStop("true");
      const stoppedAt = Date.now();
      await eventually(
        "Stopped=True and the Knative Service gone",
        async () => {
          return (await readKsvc()) === undefined && (await isvcCondition("Stopped")) === "True";
        },
        { timeoutMs: 60_000, describe: describeIt },
      );
      const stoppedSeconds = (Date.now() - stoppedAt) / 1000;
      assert.equal(await isvcCondition("Ready"), "False");
      await eventually("no predictor pod left", async () => (await readyPods()).length === 0, { timeoutMs: 60_000 });
      const noPodSeconds = (Date.now() - stoppedAt) / 1000;

      await setStop("false");
      const startedAt = Date.now();
      await eventually(
        "Knative Service back and the InferenceService Ready=True, Stopped=False",
        async () => {
          const ready = condition(await readKsvc(), "Ready")?.status === "True";
          return ready && (await isvcCondition("Ready")) === "True" && (await isvcCondition("Stopped")) === "False";
        },
        { timeoutMs: 120_000, describe: describeIt },
      );
      assert.equal((await readyPods()).length, 1);
      process.stderr.write(
        `# knative stop: ${stoppedSeconds.toFixed(1)} s to Stopped=True, ${noPodSeconds.toFixed(1)} s to no pod; start: ${((Date.now() - startedAt) / 1000).toFixed(1)} s to Ready\n`,
      );
    });
  });

  describe("the daemon and the CLI in Knative mode", { concurrency: true }, () => {
    let daemon: DaemonProcess | undefined;
    // Fixed in before(), once every service is Ready: a Knative plane's start-up time varies.
    let B0 = 0;
    let B1 = 0;
    const dns = (s: string) => `sless-${run}-${s}`;
    const SCENARIOS = { stop: "night", start: "morning", idle: "quiet", cli: "chat", person: "manual" } as const;
    const BUSY = "busy";

    const annotations = async (namespace: string, n: string) => (await readIsvcIn(namespace, n))?.metadata.annotations ?? {};
    const record = async (namespace: string, n: string): Promise<DaemonRecord | undefined> => {
      const raw = (await annotations(namespace, n))[STATE];
      return raw === undefined ? undefined : (JSON.parse(raw) as DaemonRecord);
    };
    const readSchedule = (namespace: string, n: string) =>
      readOrUndefined<KubernetesObject & { status?: ScheduleStatus }>(objects, {
        apiVersion: "reclaimer.dev/v1alpha1",
        kind: "ServingSchedule",
        metadata: { name: n, namespace },
      });
    /** The schedule's status entry for the service once it has `state` and is confirmed by KServe. */
    const confirmedInStatus = (namespace: string, sched: string, n: string, state: "Running" | "Stopped") =>
      eventually(
        `${namespace}/${sched} status: ${n} ${state}, confirmed`,
        async () => {
          const sc = await readSchedule(namespace, sched);
          const entry = sc?.status?.services?.find((x) => x.name === n);
          return entry?.state === state && entry.confirmed ? { schedule: sc, entry } : undefined;
        },
        {
          timeoutMs: 60_000,
          describe: async () => `status: ${JSON.stringify((await readSchedule(namespace, sched))?.status)}`,
        },
      );
    const events = async (namespace: string, n: string) =>
      (
        await objects.list<KubernetesObject & { reason: string; type: string; message: string; involvedObject: { name: string } }>(
          "v1",
          "Event",
          namespace,
        )
      ).items
        .filter((e) => e.involvedObject.name === n)
        .map((e) => ({ reason: e.reason, type: e.type, message: e.message }));
    /** Polls every 100 ms; the instant the stop annotation first has `value`. */
    const firstSeen = async (namespace: string, n: string, value: string, timeoutMs: number) => {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if ((await annotations(namespace, n))[STOP] === value) return Date.now();
        await sleep(100);
      }
      throw new Error(`${namespace}/${n}: ${STOP} never became "${value}" within ${timeoutMs} ms\n${await describeIn(namespace, n)()}`);
    };
    /** KServe's side of a stop in this mode: the Knative Service deleted, Stopped=True, Ready=False, no Ready pod. */
    const stoppedByKServe = (namespace: string, n: string) =>
      eventually(
        `${namespace}/${n}: Knative Service gone, Stopped=True, Ready=False, no Ready pod`,
        async () => {
          const i = await readIsvcIn(namespace, n);
          return (
            (await readKsvcIn(namespace, n)) === undefined &&
            condition(i, "Stopped")?.status === "True" &&
            condition(i, "Ready")?.status === "False" &&
            (await readyPodsIn(namespace, n)).length === 0
          );
        },
        { timeoutMs: 90_000, describe: describeIn(namespace, n) },
      );
    /** KServe's side of a start: the Knative Service Ready, the InferenceService Ready=True and not Stopped, one Ready pod. */
    const runningOnKnative = (namespace: string, n: string, timeoutMs = 180_000) =>
      eventually(
        `${namespace}/${n}: Knative Service Ready, Ready=True, Stopped not True, a Ready pod`,
        async () => {
          const i = await readIsvcIn(namespace, n);
          return (
            condition(await readKsvcIn(namespace, n), "Ready")?.status === "True" &&
            condition(i, "Ready")?.status === "True" &&
            condition(i, "Stopped")?.status !== "True" &&
            (await readyPodsIn(namespace, n)).length === 1
          );
        },
        { timeoutMs, describe: describeIn(namespace, n) },
      );
    const cli = (args: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolveRun) => {
        execFile(
          process.execPath,
          [MAIN, ...args, "--kubeconfig", cluster?.kubeconfigPath ?? ""],
          { timeout: 60_000 },
          (err, stdout, stderr) => {
            const code = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : 1) : 0;
            resolveRun({ code, stdout, stderr });
          },
        );
      });
    const confirmedLog = (action: "stop" | "start", namespace: string, n: string) =>
      daemon?.waitForLog(
        (l) => l.msg === `${action} confirmed by KServe` && l["service"] === `${namespace}/${n}`,
        `${action} confirmed by KServe for ${namespace}/${n}`,
        60_000,
      );

    before(async () => {
      const c = cluster;
      if (!c) throw new Error("no plane");
      await installCrd(kubeClient(c.kubeconfigPath).kc);
      const services: [string, string][] = [
        ["stop", SCENARIOS.stop],
        ["start", SCENARIOS.start],
        ["idle", SCENARIOS.idle],
        ["idle", BUSY],
        ["cli", SCENARIOS.cli],
        ["person", SCENARIOS.person],
      ];
      for (const s of new Set(services.map(([s]) => s))) await createNamespace(objects, dns(s));
      for (const [s, n] of services) await apply(objects, gpuInferenceService(dns(s), n, { annotations: KNATIVE_MODE }));
      const readyAt = Date.now();
      await Promise.all(services.map(([s, n]) => runningOnKnative(dns(s), n, 240_000)));
      process.stderr.write(`# ${services.length} Knative-mode services Ready in ${((Date.now() - readyAt) / 1000).toFixed(1)} s\n`);

      // Enough lead for the schedules, the daemon's start-up and the person's stop to come first.
      B0 = nextBoundary(20_000);
      B1 = B0 + 60_000;
      const W1 = { days: "*", from: hhmm(B0 - 5 * 60_000), to: hhmm(B0) };
      const W2 = { days: "*", from: hhmm(B1), to: hhmm(B1 + 60_000) };
      await apply(objects, schedule(dns("stop"), "nights", { uptime: [W1] }));
      await apply(objects, schedule(dns("start"), "office-hours", { uptime: [W1, W2] }));
      await apply(objects, schedule(dns("idle"), "idle", { idle: { after: "20s", threshold: 0, metric: "knative" } }));
      await apply(objects, schedule(dns("cli"), "always", { uptime: [{ days: "*", from: "00:00", to: "24:00" }] }));
      await apply(objects, schedule(dns("person"), "office-hours", { uptime: [W1, W2] }));

      daemon = new DaemonProcess("daemon-serverless", [
        "--kubeconfig",
        c.kubeconfigPath,
        "--prometheus-url",
        c.prometheusUrl,
        "--idle-interval",
        "2s",
        "--confirm-stop-timeout",
        "90s",
        "--namespaces",
        Object.keys(SCENARIOS).map(dns).join(","),
      ]);
      await daemon.ready();
    });

    after(async () => {
      if (!daemon) return; // before() failed first and says why
      assert.equal(await daemon.stop("SIGTERM"), 0, "SIGTERM ends the daemon cleanly");
      assert.equal(
        daemon.logs.filter((l) => l.level === "warn" || l.level === "error" || l.level === "raw").length,
        0,
        `no warning or error in the daemon's log:\n${daemon.tail()}`,
      );
    });

    test("scheduled stop at the boundary: KServe deletes the Knative Service, Stopped=True, the daemon confirms", async () => {
      const [n, s] = [dns("stop"), SCENARIOS.stop];
      await sleepUntil(B0 - 2_000);
      assert.notEqual((await annotations(n, s))[STOP], "true", "still running before the boundary");
      assert.ok(await readKsvcIn(n, s), "the Knative Service exists before the boundary");
      const seen = await firstSeen(n, s, "true", 20_000);
      assert.ok(seen - B0 <= 1_000, `annotation seen ${seen - B0} ms after the boundary`);
      const r = await record(n, s);
      assert.equal(r?.action, "stop");
      assert.equal(r?.reason, "Schedule");
      assert.equal(r?.schedule, `${n}/nights`);
      assert.equal(r?.transition, new Date(B0).toISOString());
      await stoppedByKServe(n, s);
      process.stderr.write(`# scheduled stop: Knative Service gone and Stopped=True ${((Date.now() - B0) / 1000).toFixed(1)} s after B0\n`);
      const { schedule: sc, entry } = await confirmedInStatus(n, "nights", s, "Stopped");
      assert.equal(entry.reason, "Schedule");
      assert.equal(entry.gpus, 1, "the stopped service's GPU is counted");
      assert.equal(sc?.status?.gpusReclaimed, 1);
      await confirmedLog("stop", n, s);
      // GPUs free once the revision's pods are gone (issue 16): the pod watch sees Knative's pods too
      const released = await eventually(
        `${n}/nights status: ${s} gpusReleased`,
        async () => {
          const e = (await readSchedule(n, "nights"))?.status?.services?.find((x) => x.name === s) as
            | { gpusReleased?: boolean; gpusReleasedAt?: string }
            | undefined;
          return e?.gpusReleased === true ? e : undefined;
        },
        { timeoutMs: 60_000, describe: async () => `status: ${JSON.stringify((await readSchedule(n, "nights"))?.status)}` },
      );
      assert.ok(Date.parse(released.gpusReleasedAt ?? "") >= B0, `released at ${released.gpusReleasedAt}, after the boundary`);
      assert.match((await daemon?.metrics()) ?? "", /^kserve_reclaimer_gpu_release_seconds_count\{mode="Knative"\} [1-9]/m);
      // Stays stopped: the schedule has no window left today, and KServe does not bring the Knative Service back.
      await sleep(5_000);
      assert.equal(await readKsvcIn(n, s), undefined, "the Knative Service stays deleted");
      assert.equal((await annotations(n, s))[STOP], "true");
    });

    test("scheduled start at the next boundary: the Knative Service is recreated and the daemon confirms Ready", async () => {
      const [n, s] = [dns("start"), SCENARIOS.start];
      await firstSeen(n, s, "true", B0 - Date.now() + 10_000);
      await stoppedByKServe(n, s);
      const started = await firstSeen(n, s, "false", B1 - Date.now() + 10_000);
      assert.ok(started >= B1 && started - B1 <= 1_000, `started ${started - B1} ms after B1`);
      const r = await record(n, s);
      assert.equal(r?.action, "start");
      assert.equal(r?.reason, "Schedule");
      assert.equal(r?.transition, new Date(B1).toISOString());
      await runningOnKnative(n, s);
      process.stderr.write(`# scheduled start: Knative Service Ready ${((Date.now() - B1) / 1000).toFixed(1)} s after B1\n`);
      const { entry } = await confirmedInStatus(n, "office-hours", s, "Running");
      assert.equal(entry.reason, "Schedule");
      await confirmedLog("start", n, s);
    });

    test("idle with the knative preset: stopped after its revision_app_request_count stops growing, never while traffic flows", async () => {
      const n = dns("idle");
      const c = cluster;
      if (!c) throw new Error("no plane");
      const sim = new SimulatorClient(c.simulatorUrl);
      await sim.send(`${n}/${SCENARIOS.idle}`, { rps: 5, seconds: 20 });
      await sim.send(`${n}/${BUSY}`, { rps: 5, seconds: 300 });
      const trafficEnds = Date.now() + 20_000;
      try {
        // This plane's Prometheus scrapes this plane's simulator under Knative's own metric and labels.
        const series = await eventually(
          "revision_app_request_count for both predictors in Prometheus",
          async () => {
            const q = encodeURIComponent(`revision_app_request_count{namespace_name="${n}"}`);
            const res = (await (await fetch(`${c.prometheusUrl}/api/v1/query?query=${q}`)).json()) as {
              data: { result: { metric: Record<string, string>; value: [number, string] }[] };
            };
            const names = res.data.result.filter((x) => Number(x.value[1]) > 0).map((x) => x.metric["service_name"]);
            return names.includes(`${SCENARIOS.idle}-predictor`) && names.includes(`${BUSY}-predictor`) ? names : undefined;
          },
          { timeoutMs: 20_000 },
        );
        assert.equal(series.length, 2);
        await sleepUntil(trafficEnds + 10_000);
        assert.notEqual((await annotations(n, SCENARIOS.idle))[STOP], "true", "not stopped while requests are inside the window");
        const stoppedAt = await firstSeen(n, SCENARIOS.idle, "true", 60_000);
        const late = stoppedAt - (trafficEnds + 20_000);
        assert.ok(late < 2_000 + 2_000 + 3_000, `idle stop ${late} ms after idle.after elapsed (tick 2 s, scrape 1 s)`);
        const r = await record(n, SCENARIOS.idle);
        assert.equal(r?.action, "stop");
        assert.equal(r?.reason, "Idle");
        await stoppedByKServe(n, SCENARIOS.idle);
        const served = (await sim.service(`${n}/${SCENARIOS.idle}`))?.servedTotal ?? 0;
        assert.ok(served >= 50, `the simulator served the quiet one's requests while it was Ready (${served})`);
        const { schedule: sc, entry } = await confirmedInStatus(n, "idle", SCENARIOS.idle, "Stopped");
        assert.equal(entry.reason, "Idle");
        assert.equal(condition(sc as never, "MetricsAvailable")?.status, "True");
        const busy = await annotations(n, BUSY);
        assert.notEqual(busy[STOP], "true", "the busy one keeps running");
        assert.equal(busy[STATE], undefined, "nothing was done to the busy one");
        assert.equal(condition(await readKsvcIn(n, BUSY), "Ready")?.status, "True", "its Knative Service is still there and Ready");
      } finally {
        await sim.stop(`${n}/${BUSY}`);
      }
    });

    test("kserve-reclaimer sleep and wake: the Knative Service is deleted, then recreated Ready; the daemon confirms both", async () => {
      const [n, s] = [dns("cli"), SCENARIOS.cli];
      const slept = await cli(["sleep", `${n}/${s}`]);
      assert.equal(slept.code, 0, `sleep: ${JSON.stringify(slept)}`);
      assert.equal((await annotations(n, s))[STOP], "true");
      const r = await record(n, s);
      assert.equal(r?.action, "stop");
      assert.equal(r?.reason, "Sleep");
      assert.equal(r?.schedule, `${n}/always`);
      await stoppedByKServe(n, s);
      const { entry } = await confirmedInStatus(n, "always", s, "Stopped");
      assert.equal(entry.reason, "Sleep");
      assert.equal(
        daemon?.logs.filter((l) => l["service"] === `${n}/${s}` && l.msg === "stop applied").length,
        0,
        "the stop was the CLI's, not the daemon's",
      );
      // The schedule is always up, yet a sleep lasts until its next Running transition (none today).
      await sleep(5_000);
      assert.equal((await annotations(n, s))[STOP], "true", "the daemon leaves a slept service stopped");
      assert.equal(await readKsvcIn(n, s), undefined);

      const asked = Date.now();
      const woke = await cli(["wake", `${n}/${s}`, "--for", "1h"]);
      assert.equal(woke.code, 0, `wake: ${JSON.stringify(woke)}`);
      const keep = (await annotations(n, s))[KEEP];
      const until = Date.parse(keep ?? "");
      assert.ok(Math.abs(until - (asked + 3_600_000)) < 60_000, `keep-running-until about an hour from now: ${keep}`);
      const started = await firstSeen(n, s, "false", 10_000);
      assert.ok(started - asked < 5_000, `started ${started - asked} ms after wake`);
      const w = await record(n, s);
      assert.equal(w?.action, "start");
      assert.equal(w?.reason, "KeepRunningUntil");
      await runningOnKnative(n, s);
      process.stderr.write(`# wake: Knative Service Ready ${((Date.now() - asked) / 1000).toFixed(1)} s after the command\n`);
      await confirmedInStatus(n, "always", s, "Running");
      await confirmedLog("start", n, s);
    });

    test("a person's stop is respected: the daemon does not start it at the next Running boundary", async () => {
      const [n, s] = [dns("person"), SCENARIOS.person];
      await mergePatch(objects, {
        apiVersion: ISVC,
        kind: "InferenceService",
        metadata: { name: s, namespace: n, annotations: { [STOP]: "true" } },
      });
      await stoppedByKServe(n, s);
      await sleepUntil(B1 + 8_000);
      const a = await annotations(n, s);
      assert.equal(a[STOP], "true", "still stopped after the Running transition");
      assert.equal(a[STATE], undefined, "the daemon wrote no record");
      assert.equal(await readKsvcIn(n, s), undefined, "no Knative Service was created again");
      assert.equal(condition(await readIsvcIn(n, s), "Stopped")?.status, "True");
      assert.ok(
        (await events(n, s)).some((e) => e.reason === "Skipped" && e.message.includes("ManualStop")),
        `a Skipped (ManualStop) Event on the service: ${JSON.stringify(await events(n, s))}`,
      );
      assert.equal(
        daemon?.logs.filter((l) => l["service"] === `${n}/${s}` && /applied$/.test(l.msg)).length,
        0,
        "the daemon applied nothing to it",
      );
    });
  });
});
