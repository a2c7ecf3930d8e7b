// `npm run demo`: the whole thing on one machine, with no cluster of your own. Brings up the local
// control plane of the integration tests (etcd, kube-apiserver, controller-manager, scheduler, kwok
// with 4 nodes x 4 simulated nvidia.com/gpu, the real KServe controller in Standard mode, a traffic
// simulator and Prometheus), creates GPU InferenceServices and ServingSchedules shifted to "now",
// runs the daemon (`kserve-reclaimer run`) and shows what it does, live. Ctrl-C stops everything.
//
//   npm run demo                          live view until Ctrl-C
//   npm run demo -- --duration 150        exits by itself 150 s after the daemon started
//   npm run demo -- --keep                leaves the cluster (and the daemon) running on exit
//
// When stdout is not a terminal the live view becomes a log: one line per change.
import { parseArgs } from "node:util";
import { spawn } from "node:child_process";
import { openSync, readSync, fstatSync, closeSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { CoreV1Api, KubeConfig, KubernetesObjectApi, PatchStrategy, type KubernetesObject } from "@kubernetes/client-node";
import OpenAI from "openai";
import { stringify } from "yaml";
import { startCluster, CLUSTER_ENV_FILE, type Cluster } from "../../test/support/cluster.ts";
import { freePort, startProcess, writeState, isAlive, tailFile, type Started } from "../../test/support/processes.ts";
import { installCrd } from "../../test/support/daemon.ts";
import { SimulatorClient } from "../../test/support/simulator.ts";
import { fetchWithHost } from "../../test/support/hostFetch.ts";
import { isReady } from "../../src/sources/kube/inferenceService.ts";
import { demoPlan, NAMESPACE, TRAFFIC, WAKE_CALL_DELAY_MS, WAKER } from "./scenario.ts";
import { changeLines, clock, countdown, formatDaemonLine, renderFrame, type Snapshot } from "./view.ts";
import { listInferenceServices, Watcher } from "./watcher.ts";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const FIELD_MANAGER = "kserve-reclaimer-demo";
const USAGE = `usage: npm run demo [-- --duration SECONDS] [-- --keep]

  --duration S   exit by itself S seconds after the daemon started (default: run until Ctrl-C)
  --keep         on exit, leave the cluster and the daemon running and print how to reach them
                 (stop them later with: test/cluster/down --dir <cluster dir>)
`;

// ---------- arguments ----------

let args: { duration: number | undefined; keep: boolean };
try {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      duration: { type: "string" },
      keep: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const duration = values.duration === undefined ? undefined : Number(values.duration);
  if (duration !== undefined && !(Number.isFinite(duration) && duration > 0))
    throw new Error(`--duration: "${values.duration}" is not a positive number of seconds`);
  args = { duration, keep: values.keep };
} catch (err) {
  process.stderr.write(`demo: ${err instanceof Error ? err.message : String(err)}\n${USAGE}`);
  process.exit(2);
}

const tty = process.stdout.isTTY === true;
const color = tty && process.env["NO_COLOR"] === undefined;
const t0 = Date.now();
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const say = (line: string) => process.stdout.write(`${line}\n`);
const progress = (line: string) => say(`[demo ${clock(Date.now())}] ${line}`);

// ---------- Ctrl-C ----------

const abort = new AbortController();
let interrupted: string | undefined;
let clusterDir: string | undefined;
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(sig, () => {
    if (!interrupted) {
      interrupted = sig;
      abort.abort();
      return;
    }
    process.stderr.write(
      `\ndemo: still cleaning up${clusterDir ? `; if this hangs, in another shell: test/cluster/down --dir ${clusterDir}` : ""}\n`,
    );
  });
}

// ---------- the daemon's log ----------

/** Reads lines appended to a file since the last call. */
class FileTail {
  #offset = 0;
  #partial = "";
  readonly path: string;
  constructor(path: string) {
    this.path = path;
  }
  lines(): string[] {
    if (!existsSync(this.path)) return [];
    const fd = openSync(this.path, "r");
    try {
      const size = fstatSync(fd).size;
      if (size <= this.#offset) return [];
      const buf = Buffer.alloc(size - this.#offset);
      const n = readSync(fd, buf, 0, buf.length, this.#offset);
      this.#offset += n;
      const text = this.#partial + buf.subarray(0, n).toString("utf8");
      const parts = text.split("\n");
      this.#partial = parts.pop() ?? "";
      return parts;
    } finally {
      closeSync(fd);
    }
  }
}

// ---------- set-up ----------

async function applyObject(objects: KubernetesObjectApi, obj: KubernetesObject): Promise<void> {
  await objects.patch(obj, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
}

async function waitReady(objects: KubernetesObjectApi, names: string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let notReady = names;
  while (Date.now() < deadline) {
    if (abort.signal.aborted) throw new Error("interrupted");
    const isvcs = await listInferenceServices(objects);
    notReady = names.filter((n) => {
      const i = isvcs.find((x) => x.metadata.name === n);
      return !i || !isReady(i);
    });
    if (notReady.length === 0) return;
    await sleep(250);
  }
  throw new Error(`InferenceServices not Ready within ${timeoutMs / 1000} s: ${notReady.join(", ")}`);
}

function startDaemon(cluster: Cluster, port: number): Started {
  const logPath = join(cluster.dir, "logs", "kserve-reclaimer.log");
  const started = startProcess(
    "kserve-reclaimer",
    process.execPath,
    [
      join(repoRoot, "src", "cli", "main.ts"),
      "run",
      "--kubeconfig",
      cluster.kubeconfigPath,
      "--namespaces",
      NAMESPACE,
      "--prometheus-url",
      cluster.prometheusUrl,
      "--idle-interval",
      "5s",
      "--metrics-addr",
      `127.0.0.1:${port}`,
      "--waker-service",
      `${WAKER.namespace}/${WAKER.serviceAccount}:80`,
      "--waker-service-account",
      `system:serviceaccount:${WAKER.namespace}:${WAKER.serviceAccount}`,
    ],
    { logPath, env: { ...process.env, KUBECONFIG: cluster.kubeconfigPath }, cwd: repoRoot, ports: [port] },
  );
  return recordComponent(cluster, started);
}

/** Recorded with the cluster's components: stopped first by cluster.stop() and by test/cluster/down. */
function recordComponent(cluster: Cluster, started: Started): Started {
  cluster.components.push(started.record);
  writeState(cluster.statePath, { version: 1, dir: cluster.dir, components: cluster.components });
  return started;
}

/**
 * The waker, as deploy/ runs it but on loopback: its token is a real bound ServiceAccount token for
 * the wake audience. kwok pods have no network, so a Ready service's requests go to the simulator's
 * OpenAI-compatible model server, which answers only while KServe's pods for the service are Ready.
 */
async function startWaker(cluster: Cluster, kc: KubeConfig, daemonPort: number): Promise<{ started: Started; url: string }> {
  const token = await kc.makeApiClient(CoreV1Api).createNamespacedServiceAccountToken({
    name: WAKER.serviceAccount,
    namespace: WAKER.namespace,
    body: { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { audiences: [WAKER.audience], expirationSeconds: 3600 } },
  });
  const tokenFile = join(cluster.dir, "waker-token");
  writeFileSync(tokenFile, token.status?.token ?? "", { mode: 0o600 });
  const [port, metricsPort] = [await freePort(), await freePort()];
  const started = startProcess(
    "kserve-reclaimer-waker",
    process.execPath,
    [
      join(repoRoot, "src", "cli", "entry.ts"),
      "waker",
      "--listen",
      `127.0.0.1:${port}`,
      "--metrics-addr",
      `127.0.0.1:${metricsPort}`,
      "--daemon-url",
      `http://127.0.0.1:${daemonPort}`,
      "--token-file",
      tokenFile,
      "--upstream-template",
      `${cluster.simulatorUrl}/v1/namespaces/{namespace}/inferenceservices/{name}`,
    ],
    { logPath: join(cluster.dir, "logs", "kserve-reclaimer-waker.log"), cwd: repoRoot, ports: [port, metricsPort] },
  );
  return { started: recordComponent(cluster, started), url: `http://127.0.0.1:${port}` };
}

/** A client of the idle-stopped embedder: one streamed chat completion through the waker, with the official openai client and no retries. */
async function callThroughWaker(wakerUrl: string, host: string): Promise<{ chunks: number; text: string }> {
  const client = new OpenAI({
    apiKey: "demo",
    baseURL: `${wakerUrl}/openai/v1`,
    maxRetries: 0,
    timeout: 150_000,
    fetch: fetchWithHost(host),
  });
  const stream = await client.chat.completions.create({ model: "embedder", messages: [{ role: "user", content: "hello" }], stream: true });
  let chunks = 0;
  let text = "";
  for await (const chunk of stream) {
    chunks += 1;
    text += chunk.choices[0]?.delta.content ?? "";
  }
  return { chunks, text };
}

/** test/cluster/build with its progress on our stdout, in its own process group (stopped on Ctrl-C). */
async function buildControlPlane(): Promise<void> {
  const child = spawn(join(repoRoot, "test", "cluster", "build"), [], { stdio: ["ignore", "inherit", "inherit"], detached: true });
  const kill = () => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, "SIGTERM");
    } catch {
      // already gone
    }
  };
  abort.signal.addEventListener("abort", kill, { once: true });
  try {
    const result = await new Promise<string | undefined>((resolveBuild) => {
      child.on("error", (err) => resolveBuild(err.message));
      child.on("exit", (code, signal) => resolveBuild(code === 0 ? undefined : signal ? `killed by ${signal}` : `exit code ${code}`));
    });
    if (abort.signal.aborted) throw new Error("interrupted");
    if (result !== undefined) throw new Error(`test/cluster/build failed (${result}); its logs are named above`);
  } finally {
    abort.signal.removeEventListener("abort", kill);
  }
}

// ---------- the run ----------

let cluster: Cluster | undefined;
let exitCode = 0;
let cursorHidden = false;
const stats = { stops: new Map<string, number>(), starts: 0 };

try {
  progress(
    "building what is missing of the local control plane (test/cluster/build; the first run on a machine compiles it from source, 15-20 minutes on 2 cores; later: a stamp check)",
  );
  await buildControlPlane();
  const built = Date.now();
  progress(`binaries ready in ${secs(built - t0)}; starting the local control plane`);
  cluster = await startCluster({ signal: abort.signal, build: false, log: (m) => progress(`cluster: ${m}`) });
  clusterDir = cluster.dir;
  const clusterReady = Date.now();
  say(`cluster dir: ${cluster.dir}`);
  progress(`control plane ready in ${secs(clusterReady - t0)} (if this process is killed: test/cluster/down --dir ${cluster.dir})`);

  const kc = new KubeConfig();
  kc.loadFromFile(cluster.kubeconfigPath);
  const objects = KubernetesObjectApi.makeApiClient(kc);
  await installCrd(kc);
  await applyObject(objects, { apiVersion: "v1", kind: "Namespace", metadata: { name: NAMESPACE } });
  // The services first: the schedules' times are computed once they are Ready.
  const draft = demoPlan(Date.now());
  for (const s of draft.services) await applyObject(objects, s);
  await waitReady(
    objects,
    draft.services.map((s) => s.metadata?.name ?? ""),
    90_000,
  );
  const servicesReady = Date.now();
  progress(`InferenceServices Ready in ${secs(servicesReady - clusterReady)}: ${draft.services.map((s) => s.metadata?.name).join(", ")}`);

  const plan = demoPlan(Date.now());
  for (const s of plan.schedules) await applyObject(objects, s);
  progress(`ServingSchedules (office-hours closes at ${clock(plan.closeAt)} UTC, reopens at ${clock(plan.reopenAt)} UTC):`);
  for (const s of plan.schedules) {
    for (const line of stringify({ metadata: { name: s.metadata?.name }, spec: (s as { spec?: unknown }).spec })
      .trimEnd()
      .split("\n"))
      say(`    ${line}`);
  }
  say(`planned: office-hours closes at ${new Date(plan.closeAt).toISOString()} reopens at ${new Date(plan.reopenAt).toISOString()}`);

  await applyObject(objects, { apiVersion: "v1", kind: "Namespace", metadata: { name: WAKER.namespace } });
  await applyObject(objects, {
    apiVersion: "v1",
    kind: "ServiceAccount",
    metadata: { name: WAKER.serviceAccount, namespace: WAKER.namespace },
  });
  const daemonPort = await freePort();
  const daemon = startDaemon(cluster, daemonPort);
  const waker = await startWaker(cluster, kc, daemonPort);
  const embedderHost = `embedder-${NAMESPACE}.example.com`;
  let wakeCallAt: number | undefined;
  const tail = new FileTail(daemon.record.logPath);
  const sim = new SimulatorClient(cluster.simulatorUrl);
  const watcher = new Watcher(objects, sim);
  let viewStart: number | undefined;
  // On a terminal the frame shows the last events; in a log each is a line of its own, stamped.
  const report = (who: "daemon" | "demo", text: string): void => {
    const now = Date.now();
    if (tty) watcher.event(who === "daemon" ? text : `${clock(now)} demo: ${text}`);
    else say(`[${clock(now)} +${countdown(now - (viewStart ?? now))}] ${who}: ${text}`);
  };
  const onDaemonLine = (raw: string): void => {
    const f = formatDaemonLine(raw);
    if (!f || f.level === "debug") return;
    if (f.msg === "stop applied") stats.stops.set(String(f.fields["reason"]), (stats.stops.get(String(f.fields["reason"])) ?? 0) + 1);
    if (f.msg === "stop applied" && f.fields["service"] === TRAFFIC.target && wakeCallAt === undefined)
      wakeCallAt = Date.now() + WAKE_CALL_DELAY_MS;
    if (f.msg === "start applied") stats.starts += 1;
    report("daemon", f.text);
  };
  const syncDeadline = Date.now() + 60_000;
  let synced = false;
  while (!synced) {
    if (abort.signal.aborted) throw new Error("interrupted");
    for (const l of tail.lines()) {
      onDaemonLine(l);
      if (l.includes('"msg":"caches synced"')) synced = true;
    }
    if (synced) break;
    const exited = daemon.exited();
    if (exited) throw new Error(`the daemon ${exited}; last lines of ${daemon.record.logPath}:\n${tailFile(daemon.record.logPath)}`);
    if (Date.now() > syncDeadline) throw new Error(`the daemon did not sync its caches within 60 s; see ${daemon.record.logPath}`);
    await sleep(100);
  }
  viewStart = Date.now();
  await sim.send(TRAFFIC.target, { rps: TRAFFIC.rps, seconds: TRAFFIC.seconds });
  report("demo", `simulator sends ${TRAFFIC.rps} req/s to ${TRAFFIC.target} for ${TRAFFIC.seconds} s, then nothing`);
  progress(
    `demo ready in ${secs(viewStart - t0)} (control plane ${secs(clusterReady - t0)}, services Ready ${secs(servicesReady - clusterReady)}, daemon synced ${secs(viewStart - servicesReady)})`,
  );
  if (tty) await sleep(1500);

  const endsAt = args.duration !== undefined ? viewStart + args.duration * 1000 : undefined;
  const ctx = {
    title: "kserve-reclaimer demo",
    subtitle: `namespace ${NAMESPACE} · ${cluster.components.length - 1} local components + the daemon (pid ${daemon.record.pid}, log ${daemon.record.logPath})`,
    startedAt: viewStart,
    endsAt,
    color,
  };
  let prev: Snapshot | undefined;
  let first = true;
  if (tty) {
    process.stdout.write("\x1b[?25l");
    cursorHidden = true;
  }
  let lastSummary = viewStart;
  const order = plan.services.map((s) => s.metadata?.name ?? "");
  let wakeCalled = false;
  while (!abort.signal.aborted && (endsAt === undefined || Date.now() < endsAt)) {
    const tickStart = Date.now();
    if (wakeCallAt !== undefined && tickStart >= wakeCallAt && !wakeCalled) {
      wakeCalled = true;
      report(
        "demo",
        `a client calls ${TRAFFIC.target} (stopped) through the waker: POST /openai/v1/chat/completions, Host: ${embedderHost}, streamed`,
      );
      callThroughWaker(waker.url, embedderHost).then(
        ({ chunks, text }) =>
          report(
            "demo",
            `answered after ${secs(Date.now() - tickStart)}: ${chunks} chunks streamed, "${text.slice(0, 60)}" (held while the model started)`,
          ),
        (err: unknown) => report("demo", `the call through the waker failed: ${err instanceof Error ? err.message : String(err)}`),
      );
    }
    for (const l of tail.lines()) onDaemonLine(l);
    if (daemon.exited() && !watcher.lastError) {
      watcher.lastError = `the daemon ${daemon.exited()}`;
      report("demo", `the daemon ${daemon.exited()}; see ${daemon.record.logPath}`);
    }
    let snap: Snapshot | undefined;
    try {
      snap = await watcher.snapshot(Date.now(), order);
    } catch (err) {
      report("demo", `cannot read the cluster: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (snap) {
      if (tty) {
        const width = process.stdout.columns ?? 120;
        const height = process.stdout.rows ?? 40;
        const lines = renderFrame(snap, { ...ctx, width }).slice(0, Math.max(1, height - 1));
        process.stdout.write(`${first ? "\x1b[2J" : ""}\x1b[H${lines.map((l) => `${l}\x1b[K`).join("\n")}\n\x1b[J`);
        first = false;
      } else {
        for (const line of changeLines(prev, snap, viewStart)) say(line);
        if (snap.now - lastSummary >= 30_000) {
          lastSummary = snap.now;
          const nexts = snap.rows
            .filter((r) => r.next)
            .map((r) => `${r.key} -> ${r.next?.state} in ${countdown((r.next?.at ?? 0) - snap.now)}`);
          say(
            `[${clock(snap.now)} +${countdown(snap.now - viewStart)}] summary: ${snap.gpusInUse} GPUs in use, ${snap.gpusReclaimed} reclaimed, ${snap.gpuHoursReclaimed.toFixed(4)} GPU-hours reclaimed${nexts.length ? `; next: ${nexts.join(", ")}` : ""}`,
          );
        }
      }
      prev = snap;
    }
    const wait = 1000 - (Date.now() - tickStart);
    if (wait > 0) await Promise.race([sleep(wait), new Promise((r) => abort.signal.addEventListener("abort", r, { once: true }))]);
  }
  if (cursorHidden) {
    process.stdout.write("\x1b[?25h");
    cursorHidden = false;
  }
  const stops = [...stats.stops.entries()].map(([r, n]) => `${n} ${r}`).join(", ") || "none";
  say("");
  say(
    `demo ${interrupted ? `interrupted (${interrupted})` : "finished"} after ${countdown(Date.now() - viewStart)} of live view: stops ${stops}; starts ${stats.starts}; ` +
      `GPU-hours reclaimed ${(prev?.gpuHoursReclaimed ?? 0).toFixed(4)}; GPUs reclaimed now ${prev?.gpusReclaimed ?? 0}`,
  );
} catch (err) {
  if (cursorHidden) process.stdout.write("\x1b[?25h");
  cursorHidden = false;
  if (interrupted) {
    say(`demo: interrupted (${interrupted}) during start-up`);
  } else {
    process.stderr.write(`demo: FAILED: ${err instanceof Error ? err.message : String(err)}\n`);
    exitCode = 1;
  }
} finally {
  if (cursorHidden) process.stdout.write("\x1b[?25h");
  if (cluster) {
    if (args.keep) {
      say("");
      say(`--keep: the cluster and the daemon are still running (state ${cluster.statePath}).`);
      say(
        `  source ${join(cluster.dir, CLUSTER_ENV_FILE)}        # ${readFileSync(join(cluster.dir, CLUSTER_ENV_FILE), "utf8")
          .trim()
          .split("\n")
          .map((l) => l.replace(/^export /, ""))
          .join(" ")}`,
      );
      say(`  node src/cli/main.ts status -n ${NAMESPACE}         # what the daemon did and why`);
      say(`  tail -f ${join(cluster.dir, "logs", "kserve-reclaimer.log")}`);
      say(`  test/cluster/down --dir ${cluster.dir}   # stops everything (daemon included) and removes the directory`);
    } else {
      const stopStart = Date.now();
      const daemonRunning = cluster.components.some((c) => c.name === "kserve-reclaimer");
      progress(
        `stopping ${daemonRunning ? `the daemon and ${cluster.components.length - 1}` : cluster.components.length} cluster components ...`,
      );
      try {
        await cluster.stop();
        const left = cluster.components.filter((c) => isAlive(c.pid)).map((c) => `${c.name}(${c.pid})`);
        // biome-ignore lint/correctness/noUnsafeFinally: caught by the catch right below, never leaves the finally
        if (left.length > 0) throw new Error(`still alive: ${left.join(", ")}`);
        progress(`cleaned up in ${secs(Date.now() - stopStart)}: ${cluster.components.length} processes stopped, ${cluster.dir} removed`);
      } catch (err) {
        process.stderr.write(
          `demo: cleanup failed: ${err instanceof Error ? err.message : String(err)}\n  stop what is left with: test/cluster/down --dir ${cluster.dir}\n`,
        );
        exitCode = 1;
      }
    }
  }
}
process.exit(exitCode);
