// Integration test runner: starts ONE local control plane, runs the
// integration test files against it with node:test (KUBECONFIG, PROMETHEUS_URL,
// SIMULATOR_URL, ... in the environment), and always tears the cluster down:
// after success, failure, SIGINT or SIGTERM.
//
//   node test/integration/run.ts                                   all test/integration/**/*.test.ts
//   node test/integration/run.ts test/integration/smoke.test.ts    one file
//   node test/integration/run.ts -- --test-name-pattern=stop       extra node --test flags after --
import { spawn, type ChildProcess } from 'node:child_process';
import { startCluster, type Cluster } from '../support/cluster.ts';

const argv = process.argv.slice(2);
const sep = argv.indexOf('--');
const files = (sep === -1 ? argv : argv.slice(0, sep));
const extraFlags = sep === -1 ? [] : argv.slice(sep + 1);
const patterns = files.length > 0 ? files : ['test/integration/**/*.test.ts'];

let cluster: Cluster | undefined;
let child: ChildProcess | undefined;
let tearingDown: Promise<void> | undefined;

function log(message: string): void {
  process.stderr.write(`[integration] ${message}\n`);
}

async function teardown(): Promise<boolean> {
  if (!cluster) return true;
  const c = cluster;
  cluster = undefined;
  try {
    await c.stop({ keepDir: process.env['KEEP_CLUSTER_DIR'] === '1' });
    return true;
  } catch (err) {
    log(`teardown failed: ${err instanceof Error ? err.message : String(err)}`);
    return false;
  }
}

function onSignal(signal: NodeJS.Signals): void {
  log(`${signal}: stopping tests and cluster`);
  if (child?.pid !== undefined) {
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  tearingDown ??= teardown().then(() => process.exit(signal === 'SIGINT' ? 130 : 143));
}
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

let exitCode = 1;
try {
  const started = Date.now();
  cluster = await startCluster({ log: (m) => log(m) });
  log(`cluster started in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  if (tearingDown) await new Promise(() => {}); // a signal arrived while starting; the handler exits
  const env = { ...process.env, ...cluster.env };
  child = spawn(process.execPath, ['--test', '--test-reporter=spec', '--test-concurrency=1', ...extraFlags, ...patterns], {
    stdio: 'inherit',
    env,
    detached: true, // own process group, so a signal can stop the whole test tree
  });
  exitCode = await new Promise<number>((resolve) => {
    child?.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
    child?.on('error', (err) => {
      log(`cannot run node --test: ${err.message}`);
      resolve(1);
    });
  });
} catch (err) {
  log(`FAILED to start the cluster: ${err instanceof Error ? err.message : String(err)}`);
  exitCode = 1;
} finally {
  if (!tearingDown) {
    const ok = await teardown();
    if (!ok) exitCode = 1;
  }
}
if (!tearingDown) process.exit(exitCode);
