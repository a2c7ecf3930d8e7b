// Wake on request end to end: real clients -> the real waker process -> the real daemon (wake API,
// TokenReview, decision, wake routes) -> the real KServe controller starting the service on kwok
// GPU nodes -> the request forwarded to the model server and answered.
//
// One substitution, said here: kwok pods have no network, so the waker's upstream resolution is
// pointed (its --upstream-template flag) at the traffic simulator's OpenAI-compatible model server,
// which answers for a service only while KServe's pods for it are Ready. Everything on the way is
// the product as deployed; no gateway runs, so the clients send the service's Host header to the
// waker as the gateway in front of it would.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { promisify } from "node:util";
import { randomBytes } from "node:crypto";
import { request } from "node:http";
import OpenAI from "openai";
import { CoreV1Api, type KubernetesObject } from "@kubernetes/client-node";
import { clusterFromEnv } from "../support/cluster.ts";
import { condition, eventually, readOrUndefined, type InferenceService } from "../support/kube.ts";
import { SimulatorClient } from "../support/simulator.ts";
import { DaemonProcess, apply, createNamespace, gpuService, installCrd, kube, metricValue, schedule } from "../support/daemon.ts";
import { WakerProcess } from "../support/waker.ts";
import { fetchWithHost } from "../support/hostFetch.ts";

const cluster = clusterFromEnv();
const { kc, objects } = kube(cluster.kubeconfigPath);
const sim = new SimulatorClient(cluster.simulatorUrl);
const run = `w${randomBytes(2).toString("hex")}`;
const ns = (s: string) => `${run}-${s}`;
const sysNs = ns("sys");
const STOP = "serving.kserve.io/stop";
const STATE = "reclaimer.dev/state";
const host = (namespace: string, name: string) => `${name}-${namespace}.example.com`;
const dir = mkdtempSync(join(tmpdir(), "wake-e2e-"));
const tokenFile = join(dir, "token");
const logDir = process.env["CLUSTER_DIR"] ? `${process.env["CLUSTER_DIR"]}/logs` : dir;

type Isvc = InferenceService & { metadata: { annotations?: Record<string, string> } };
const isvc = (namespace: string, name: string) =>
  readOrUndefined<Isvc>(objects, { apiVersion: "serving.kserve.io/v1beta1", kind: "InferenceService", metadata: { name, namespace } });
const record = async (namespace: string, name: string) => {
  const raw = (await isvc(namespace, name))?.metadata.annotations?.[STATE];
  return raw === undefined ? undefined : (JSON.parse(raw) as { action: string; reason: string; at: string });
};
const stoppedByKServe = async (namespace: string, name: string) => condition(await isvc(namespace, name), "Stopped")?.status === "True";
const readyNow = async (namespace: string, name: string) => condition(await isvc(namespace, name), "Ready")?.status === "True";
const wakeIngress = (namespace: string, name: string) =>
  readOrUndefined(objects, { apiVersion: "networking.k8s.io/v1", kind: "Ingress", metadata: { name: `${name}-wake`, namespace } });
async function events(namespace: string, name: string): Promise<{ reason: string; type: string; message: string }[]> {
  const list = await objects.list<KubernetesObject & { reason: string; type: string; message: string; involvedObject: { name: string } }>(
    "v1",
    "Event",
    namespace,
  );
  return list.items.filter((e) => e.involvedObject.name === name).map((e) => ({ reason: e.reason, type: e.type, message: e.message }));
}

/** One plain HTTP request to the waker with a service's Host; resolves with status, headers and body, or the socket error's code. */
function call(
  wakerUrl: string,
  hostHeader: string,
  body: unknown,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string } | { error: string }> {
  const url = new URL("/openai/v1/chat/completions", wakerUrl);
  const payload = JSON.stringify(body);
  return new Promise((resolve) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: "POST",
        agent: false,
        setHost: false,
        headers: { host: hostHeader, "content-type": "application/json", "content-length": Buffer.byteLength(payload) },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (text += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
        res.on("error", (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
      },
    );
    req.on("error", (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
    req.end(payload);
  });
}

let daemon: DaemonProcess;
let waker: WakerProcess;
const namespaces = ["idle", "crowd", "nogpu", "restart", "manual"] as const;

async function startWaker(): Promise<WakerProcess> {
  return WakerProcess.start({
    daemonUrl: `http://127.0.0.1:${daemon.port}`,
    tokenFile,
    upstreamTemplate: `${cluster.simulatorUrl}/v1/namespaces/{namespace}/inferenceservices/{name}`,
    logFile: join(logDir, `waker-${run}.log`),
  });
}

before(async () => {
  await installCrd(kc);
  for (const n of [sysNs, ...namespaces.map(ns)]) await createNamespace(objects, n);
  await apply(objects, {
    apiVersion: "v1",
    kind: "ServiceAccount",
    metadata: { name: "kserve-reclaimer-waker", namespace: sysNs },
  } as KubernetesObject);
  // the waker's credential as deployed: a bound token for the wake audience only
  const t = await kc.makeApiClient(CoreV1Api).createNamespacedServiceAccountToken({
    name: "kserve-reclaimer-waker",
    namespace: sysNs,
    body: {
      apiVersion: "authentication.k8s.io/v1",
      kind: "TokenRequest",
      spec: { audiences: ["kserve-reclaimer-wake"], expirationSeconds: 3600 },
    },
  });
  writeFileSync(tokenFile, t.status?.token ?? "", { mode: 0o600 });

  const wakeSpec = (timeout: string, extra: Record<string, unknown> = {}) => ({
    idle: { after: "20s", threshold: 0, metric: "kserve" },
    wake: { onRequest: true, timeout, maxHeldRequests: 250 },
    ...extra,
  });
  // idle: always in its window, stopped for idleness; the others: no window at all, stopped at once
  await objects.create(gpuService(ns("idle"), "chat"));
  await apply(objects, schedule(ns("idle"), "idle", wakeSpec("2m")));
  await objects.create(gpuService(ns("crowd"), "chat"));
  await apply(objects, schedule(ns("crowd"), "nights", wakeSpec("2m", { timeZone: "UTC", uptime: [] })));
  // 5 GPUs on nodes of 4: the start is applied, the pod never schedules
  await objects.create(gpuService(ns("nogpu"), "chat", { gpus: 5 }));
  await apply(objects, schedule(ns("nogpu"), "nights", wakeSpec("15s", { timeZone: "UTC", uptime: [] })));
  await objects.create(gpuService(ns("restart"), "chat"));
  await objects.create(gpuService(ns("restart"), "huge", { gpus: 5 }));
  await apply(objects, schedule(ns("restart"), "nights", wakeSpec("2m", { timeZone: "UTC", uptime: [] })));
  await objects.create(gpuService(ns("manual"), "chat", { annotations: { [STOP]: "true" } }));
  await apply(objects, schedule(ns("manual"), "nights", wakeSpec("2m", { timeZone: "UTC", uptime: [] })));
  // some traffic first, so the idle service's request counter exists (no series reads as unknown, never idle)
  await sim.send(`${ns("idle")}/chat`, { rps: 2, seconds: 4 });

  daemon = new DaemonProcess(`wake-e2e-${run}`, [
    "--kubeconfig",
    cluster.kubeconfigPath,
    "--namespaces",
    namespaces.map(ns).join(","),
    "--prometheus-url",
    cluster.prometheusUrl,
    "--idle-interval",
    "2s",
    "--waker-service",
    `${sysNs}/kserve-reclaimer-waker:80`,
    "--waker-service-account",
    `system:serviceaccount:${sysNs}:kserve-reclaimer-waker`,
    "--confirm-start-timeout",
    "20s",
  ]);
  await daemon.ready(60_000);
  await eventually("the daemon's metrics port", async () => daemon.port !== undefined, { timeoutMs: 10_000 });
  waker = await startWaker();
});

after(async () => {
  await waker?.stop();
  await daemon?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("wake on request, end to end", { concurrency: true }, () => {
  test("the openai client gets a complete streamed answer from an idle-stopped service; curl too; it stops again when idle", async () => {
    const n = ns("idle");
    await eventually(
      "idle stop with a wake route",
      async () => (await record(n, "chat"))?.reason === "Idle" && (await stoppedByKServe(n, "chat")),
      {
        timeoutMs: 120_000,
      },
    );
    assert.ok(await wakeIngress(n, "chat"), "the wake Ingress exists while the service is stopped");

    const client = new OpenAI({
      apiKey: "tenant-key",
      baseURL: `${waker.url}/openai/v1`,
      maxRetries: 0,
      timeout: 120_000,
      fetch: fetchWithHost(host(n, "chat")),
    });
    const sent = Date.now();
    let text = "";
    let finish: string | null | undefined;
    let chunks = 0;
    const stream = await client.chat.completions.create({ model: "chat", messages: [{ role: "user", content: "hello" }], stream: true });
    for await (const chunk of stream) {
      chunks += 1;
      text += chunk.choices[0]?.delta.content ?? "";
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    assert.ok(chunks > 2, `a streamed answer (${chunks} chunks)`);
    assert.ok(text.length > 0, "the answer has content");
    assert.equal(finish, "stop");
    const rec = await record(n, "chat");
    assert.equal(rec?.action, "start");
    assert.equal(rec?.reason, "Request");
    assert.ok(Date.parse(rec.at) >= sent - 1_000, "started after the request arrived");
    assert.ok(
      (await events(n, "chat")).some((e) => e.reason === "WokenByRequest"),
      "an Event says a request woke it",
    );

    // curl, the service running now (the waker forwards while KServe's route takes over)
    const { stdout } = await promisify(execFile)("curl", [
      "-sS",
      "--max-time",
      "60",
      "-H",
      `Host: ${host(n, "chat")}`,
      "-H",
      "content-type: application/json",
      "-d",
      JSON.stringify({ model: "chat", messages: [{ role: "user", content: "hi" }] }),
      `${waker.url}/openai/v1/chat/completions`,
    ]);
    const answer = JSON.parse(stdout) as { choices: { message: { content: string }; finish_reason: string }[] };
    assert.ok((answer.choices[0]?.message.content ?? "").length > 0, `curl got an answer: ${stdout.slice(0, 300)}`);

    await eventually("the wake route is gone after Ready", async () => (await readyNow(n, "chat")) && !(await wakeIngress(n, "chat")), {
      timeoutMs: 60_000,
    });
    const m = await waker.metrics();
    assert.ok(metricValue(m, "kserve_reclaimer_waker_first_byte_seconds_count") >= 1, "time to first byte recorded");
    // back under its policy: no traffic for idle.after, stopped again, with a wake route again
    await eventually(
      "stopped again when idle",
      async () => (await record(n, "chat"))?.reason === "Idle" && (await isvc(n, "chat"))?.metadata.annotations?.[STOP] === "true",
      { timeoutMs: 120_000 },
    );
    assert.ok(await wakeIngress(n, "chat"), "a wake route again for the next request");
  });

  test("200 concurrent requests to one stopped service make one start and all get answered", async () => {
    const n = ns("crowd");
    await eventually(
      "stopped by the schedule",
      async () => (await stoppedByKServe(n, "chat")) && (await wakeIngress(n, "chat")) !== undefined,
      {
        timeoutMs: 60_000,
      },
    );
    const before = (await isvc(n, "chat"))?.metadata.resourceVersion;
    assert.ok(before);
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        call(waker.url, host(n, "chat"), { model: "chat", messages: [{ role: "user", content: `q${i}` }] }),
      ),
    );
    const statuses = results.map((r) => ("status" in r ? r.status : r.error));
    assert.deepEqual(
      [...new Set(statuses)],
      [200],
      `every request answered 200: ${statuses.filter((x) => x !== 200).length} not: ${JSON.stringify([...new Set(statuses)])}`,
    );
    // one start: the daemon's record was written once with reason Request, and the daemon logged one start
    assert.equal((await record(n, "chat"))?.reason, "Request");
    const starts = daemon.logs.filter((l) => l.msg === "start applied" && l["service"] === `${n}/chat`);
    assert.equal(starts.length, 1, `one start, not ${starts.length}:\n${starts.map((p) => JSON.stringify(p)).join("\n")}`);
    assert.equal(starts[0]?.["reason"], "Request");
    assert.equal(metricValue(await daemon.metrics(), "kserve_reclaimer_wakes_total", { namespace: n }), 1, "one wake counted");
  });

  test("no GPU free: every held request gets 503 + Retry-After at its deadline, and a Warning Event says why", async () => {
    const n = ns("nogpu");
    await eventually(
      "stopped by the schedule",
      async () => (await stoppedByKServe(n, "chat")) && (await wakeIngress(n, "chat")) !== undefined,
      {
        timeoutMs: 60_000,
      },
    );
    const t0 = Date.now();
    const results = await Promise.all(
      Array.from({ length: 10 }, () => call(waker.url, host(n, "chat"), { model: "chat", messages: [{ role: "user", content: "q" }] })),
    );
    const waited = Date.now() - t0;
    for (const r of results) {
      assert.ok("status" in r, `an answer, not ${JSON.stringify(r)}`);
      assert.equal(r.status, 503);
      assert.ok(Number(r.headers["retry-after"]) > 0, "Retry-After");
      assert.equal((JSON.parse(r.body) as { error: { type: string } }).error.type, "model_starting");
    }
    assert.ok(waited >= 14_000 && waited < 40_000, `held until wake.timeout (15 s), answered after ${waited} ms`);
    assert.equal(metricValue(await waker.metrics(), "kserve_reclaimer_waker_held_requests"), 0, "nothing left held");
    await eventually(
      "a Warning Event with the scheduler's reason",
      async () => (await events(n, "chat")).some((e) => e.type === "Warning" && /nvidia\.com\/gpu/.test(e.message)),
      { timeoutMs: 60_000 },
    );
  });

  test("the waker restarting mid-hold: the held requests' connections close, nothing else is lost, a new waker answers", async () => {
    // a waker of its own: the other scenarios keep theirs
    const n = ns("restart");
    await eventually(
      "both stopped by the schedule",
      async () => (await stoppedByKServe(n, "huge")) && (await stoppedByKServe(n, "chat")) && (await wakeIngress(n, "chat")) !== undefined,
      { timeoutMs: 60_000 },
    );
    const first = await startWaker();
    // "huge" (5 GPUs) never becomes Ready, so its requests stay held until the kill
    const held = Array.from({ length: 5 }, () =>
      call(first.url, host(n, "huge"), { model: "huge", messages: [{ role: "user", content: "q" }] }),
    );
    await eventually("held", async () => metricValue(await first.metrics(), "kserve_reclaimer_waker_held_requests") >= 5, {
      timeoutMs: 10_000,
    });
    // "held" is counted before the waker's call reaches the daemon: kill only once the start was asked for
    await eventually("the start asked for", async () => (await record(n, "huge"))?.reason === "Request", { timeoutMs: 15_000 });
    await first.stop("SIGKILL");
    const lost = await Promise.all(held);
    for (const r of lost) assert.ok("error" in r, `a held request sees its connection close: ${JSON.stringify(r).slice(0, 200)}`);
    const after = await isvc(n, "huge");
    assert.equal(after?.metadata.annotations?.[STOP], "false", "the start asked for before the kill goes on");
    const second = await startWaker();
    try {
      const again = await call(second.url, host(n, "chat"), { model: "chat", messages: [{ role: "user", content: "again" }] });
      assert.ok("status" in again && again.status === 200, `answered by the new waker: ${JSON.stringify(again).slice(0, 300)}`);
    } finally {
      await second.stop();
    }
  });

  test("a person's stop is never woken: 503 model_stopped at once, no start, no wake route", async () => {
    const n = ns("manual");
    await eventually("the daemon has seen it", async () => daemon.logs.some((l) => l["namespace"] === n), { timeoutMs: 30_000 }).catch(
      () => undefined,
    );
    const r = await call(waker.url, host(n, "chat"), { model: "chat", messages: [{ role: "user", content: "q" }] });
    assert.ok("status" in r, JSON.stringify(r));
    assert.ok(r.status === 503 || r.status === 404, `refused at once, got ${r.status} ${r.body.slice(0, 200)}`);
    assert.equal((await isvc(n, "chat"))?.metadata.annotations?.[STOP], "true");
    assert.equal(await record(n, "chat"), undefined, "the daemon wrote no record");
    assert.equal(await wakeIngress(n, "chat"), undefined);
  });
});
