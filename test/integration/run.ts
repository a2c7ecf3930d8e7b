// Integration test runner: starts ONE local control plane, runs the
// integration test files against it with node:test (KUBECONFIG, PROMETHEUS_URL,
// SIMULATOR_URL, ... in the environment), and always tears the cluster down:
// after success, failure, SIGINT or SIGTERM (also during start-up).
//
//   node test/integration/run.ts                                   all test/integration/**/*.test.ts
//   node test/integration/run.ts test/integration/smoke.test.ts    some files
//   node test/integration/run.ts FILE -- --test-name-pattern=stop  extra node --test flags after --
//   KEEP_CLUSTER_DIR=1 node test/integration/run.ts                keep the cluster's logs
//   KWOK_POD_STAGES=general node test/integration/run.ts           slower, more realistic pod life cycle
import { spawn, type ChildProcess } from "node:child_process";
import { startCluster, type Cluster } from "../support/cluster.ts";

const argv = process.argv.slice(2);
const sep = argv.indexOf("--");
const files = sep === -1 ? argv : argv.slice(0, sep);
const extraFlags = sep === -1 ? [] : argv.slice(sep + 1);
const patterns = files.length > 0 ? files : ["test/integration/**/*.test.ts"];

function log(message: string): void {
  process.stderr.write(`[integration] ${message}\n`);
}

const abort = new AbortController();
let child: ChildProcess | undefined;
let interrupted: NodeJS.Signals | undefined;

function onSignal(signal: NodeJS.Signals): void {
  if (interrupted) return;
  interrupted = signal;
  log(`${signal}: stopping the tests and the cluster`);
  abort.abort();
  if (child?.pid !== undefined) {
    try {
      process.kill(-child.pid, "SIGTERM");
    } catch {
      // already gone
    }
  }
}
process.on("SIGINT", onSignal);
process.on("SIGTERM", onSignal);

async function runTests(cluster: Cluster): Promise<number> {
  child = spawn(process.execPath, ["--test", "--test-reporter=spec", "--test-concurrency=1", ...extraFlags, ...patterns], {
    stdio: "inherit",
    env: { ...process.env, ...cluster.env },
    detached: true, // its own process group, so a signal stops the whole test tree
  });
  return new Promise<number>((resolve) => {
    child?.on("exit", (code, signal) => resolve(code ?? (signal ? 1 : 0)));
    child?.on("error", (err) => {
      log(`cannot run node --test: ${err.message}`);
      resolve(1);
    });
  });
}

let exitCode = 1;
let cluster: Cluster | undefined;
try {
  const started = Date.now();
  const podStages = process.env["KWOK_POD_STAGES"] ?? "fast";
  if (podStages !== "fast" && podStages !== "general") throw new Error(`KWOK_POD_STAGES must be fast or general, got ${podStages}`);
  cluster = await startCluster({ log, signal: abort.signal, podStages });
  log(`cluster started in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  if (!interrupted) exitCode = await runTests(cluster);
} catch (err) {
  log(`FAILED to start the cluster: ${err instanceof Error ? err.message : String(err)}`);
  exitCode = 1;
} finally {
  if (cluster) {
    try {
      await cluster.stop({ keepDir: process.env["KEEP_CLUSTER_DIR"] === "1" });
    } catch (err) {
      log(`teardown failed: ${err instanceof Error ? err.message : String(err)}`);
      exitCode = 1;
    }
  }
}
if (interrupted) exitCode = interrupted === "SIGINT" ? 130 : 143;
process.exit(exitCode);
