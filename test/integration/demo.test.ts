// `npm run demo` end to end, as a user runs it but without a terminal: its entry point as a child
// process with --duration, so it prints a line per change. It starts its OWN cluster (next to the
// runner's), so this file needs nothing from the environment. Asserts what the demo promises (the
// services, a stop by schedule at the boundary, an idle stop, the excluded service left alone) and
// that after it exits nothing of its cluster is left: every pid of its cluster.json is gone, its
// directory removed.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { isAlive, type ClusterState } from "../support/processes.ts";
import { stopClusterDir } from "../support/cluster.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const DURATION_S = 150;

// The runner's cluster is not the demo's: leave its variables out of the demo's environment.
const env = { ...process.env };
for (const k of [
  "KUBECONFIG",
  "KUBE_APISERVER_URL",
  "PROMETHEUS_URL",
  "SIMULATOR_URL",
  "CLUSTER_DIR",
  "CLUSTER_GPU_NODES",
  "CLUSTER_GPUS_PER_NODE",
  "KSERVE_NAMESPACE",
  "CLUSTER_POD_STAGES",
])
  delete env[k];

let leftover: string | undefined;
after(async () => {
  // Only when an assertion failed before the demo could clean up after itself.
  if (leftover && existsSync(join(leftover, "cluster.json"))) await stopClusterDir(leftover, { log: () => {} });
});

test(`npm run demo -- --duration ${DURATION_S} (not a terminal): services, a stop by schedule, an idle stop, nothing left behind`, {
  timeout: 240_000,
}, async () => {
  const started = Date.now();
  const child = spawn(process.execPath, [join(ROOT, "scripts", "demo", "main.ts"), "--duration", String(DURATION_S)], {
    cwd: ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.setEncoding("utf8").on("data", (c: string) => (out += c));
  child.stderr.setEncoding("utf8").on("data", (c: string) => (err += c));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));

  // Its cluster's processes, read while it runs (the demo removes the directory when it is done).
  let state: ClusterState | undefined;
  let dir: string | undefined;
  let finishedAt: number | undefined;
  while (child.exitCode === null && child.signalCode === null) {
    dir ??= /^cluster dir: (\S+)$/m.exec(out)?.[1];
    if (dir) leftover = dir;
    if (dir && !state && /demo ready in/.test(out)) state = JSON.parse(readFileSync(join(dir, "cluster.json"), "utf8")) as ClusterState;
    if (finishedAt === undefined && /demo finished after/.test(out)) finishedAt = Date.now();
    if (Date.now() - started > 230_000) {
      child.kill("SIGTERM"); // the demo cleans up on SIGTERM like on Ctrl-C
      break;
    }
    await sleep(200);
  }
  const code = await exited;
  const context = `\n--- stdout ---\n${out}\n--- stderr ---\n${err}`;
  assert.equal(code, 0, `exit code${context}`);
  assert.ok(dir, `printed its cluster dir${context}`);
  assert.ok(state, `cluster.json read while running${context}`);
  const names = state.components.map((c) => c.name);
  for (const n of [
    "etcd",
    "kube-apiserver",
    "kwok",
    "kserve-manager",
    "prometheus",
    "simulator",
    "kserve-reclaimer",
    "kserve-reclaimer-waker",
  ])
    assert.ok(names.includes(n), `${n} recorded in cluster.json: ${names.join(", ")}`);

  // Start-up timings are printed.
  assert.match(out, /control plane ready in \d+\.\d s/);
  const ready = /demo ready in (\d+\.\d) s/.exec(out);
  assert.ok(ready, context);

  // The services, with their schedules' reasons.
  for (const s of ["llama", "mistral", "embedder"])
    assert.match(out, new RegExp(`demo/${s}: Running reason=Schedule ready=True`), `${s} running${context}`);
  assert.match(out, /demo\/critical: .*reason=Excluded/, context);

  // Stop by schedule, at the boundary the demo planned.
  const planned = /planned: office-hours closes at (\S+) reopens at (\S+)/.exec(out);
  assert.ok(planned, context);
  const closeAt = Date.parse(planned[1] ?? "");
  const reopenAt = Date.parse(planned[2] ?? "");
  assert.ok(
    out.includes(`schedule transition schedule=demo/office-hours at=${new Date(closeAt).toISOString()} state=Stopped reason=Schedule`),
    `the daemon saw the planned boundary${context}`,
  );
  for (const s of ["llama", "mistral"]) {
    const stop = new RegExp(
      `daemon: (\\S+) stop applied service=demo/${s} reason=Schedule schedule=demo/office-hours gpus=\\d lagMs=(\\d+)`,
    ).exec(out);
    assert.ok(stop, `${s} stopped by schedule${context}`);
    assert.ok(Number(stop[2]) < 2_000, `${s} stopped ${stop[2]} ms after the boundary`);
    assert.match(
      out,
      new RegExp(`demo/${s}: Running -> Stopped reason=Schedule .*next Running at ${new Date(reopenAt).toISOString().slice(11, 19)}`),
      context,
    );
  }
  assert.match(out, /stop confirmed by KServe service=demo\/llama/, context);
  assert.match(out, /GPUs: \d+ in use, [3-9] reclaimed/, `the GPUs show up as reclaimed${context}`);

  // Idle stop after the simulator's traffic ended.
  assert.match(out, /demo: simulator sends \d+ req\/s to demo\/embedder/);
  assert.match(out, /daemon: \S+ stop applied service=demo\/embedder reason=Idle schedule=demo\/idle-45s gpus=1/, context);
  assert.match(out, /demo\/embedder: Running -> Stopped reason=Idle/, context);

  // Wake on request: a client calls the idle-stopped embedder through the waker; one start, reason
  // Request, and the streamed answer arrives (the call starts 8 s after the idle stop).
  assert.match(out, /demo: a client calls demo\/embedder \(stopped\) through the waker/, context);
  assert.match(out, /daemon: \S+ start applied service=demo\/embedder reason=Request schedule=demo\/idle-45s gpus=1/, context);
  assert.match(out, /demo: answered after \d+\.\d s: \d+ chunks streamed/, context);
  assert.doesNotMatch(out, /the call through the waker failed/, context);

  // The excluded service is never touched.
  assert.doesNotMatch(out, /applied service=demo\/critical/);

  // The window reopens within the run unless the boundary fell right at its end.
  const finished = /demo finished after (\S+) of live view: stops (.*); starts (\d+); GPU-hours reclaimed (\d+\.\d+)/.exec(out);
  assert.ok(finished, context);
  if (/start applied service=demo\/llama/.test(out)) {
    assert.match(out, /demo\/llama: Stopped -> Running reason=Schedule/, context);
    assert.match(
      out.slice(out.indexOf("start applied service=demo/llama")),
      /demo\/llama: (Stopped -> )?Running reason=Schedule ready=True gpus=2\/2/,
      `llama Ready again with its GPUs${context}`,
    );
  } else {
    assert.ok(
      finishedAt !== undefined && reopenAt > finishedAt - 5_000,
      `the window reopened at ${planned[2]} but the daemon did not start llama${context}`,
    );
  }
  assert.ok(Number(finished[4]) > 0, `GPU-hours reclaimed > 0${context}`);
  assert.match(finished[2] ?? "", /\d Schedule/);
  // the woken embedder may be idle-stopped a second time before the demo ends
  assert.match(finished[2] ?? "", /[12] Idle/);

  // Nothing left behind.
  assert.match(out, /cleaned up in \d+\.\d s: \d+ processes stopped/, context);
  const alive = state.components.filter((c) => isAlive(c.pid)).map((c) => `${c.name}(${c.pid})`);
  assert.deepEqual(alive, [], "no process of the demo cluster is left");
  assert.equal(existsSync(dir), false, `${dir} removed`);
  leftover = undefined;
  process.stderr.write(`demo: ready in ${ready[1]} s, whole run ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
});
