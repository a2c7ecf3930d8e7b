// `npm run bench`: every benchmark, one after the other, each in its own process (the engine bench,
// then the four against a real control plane: boundary lag, cost at rest + start-up, idle
// detection, and side by side with kube-green and a bare client, which builds kube-green itself).
// Each prints its table and writes test/bench/results/<name>.json. Pass names to run a subset:
// `npm run bench -- boundary idle`. Environment knobs: see each script's header
// (BENCH_N, BENCH_REST_SECONDS, BENCH_KUBE_QPS, BENCH_KUBE_BURST, BENCH_DAEMON_ENTRY,
// BENCH_PEERS_N, BENCH_PEERS_REST_SECONDS, ...).
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "./lib.ts";

const ALL = ["engine", "boundary", "rest", "idle", "peers"];
const wanted = process.argv.slice(2).filter((a) => a !== "--");
const names = wanted.length > 0 ? wanted : ALL;
const unknown = names.filter((n) => !ALL.includes(n));
if (unknown.length > 0) {
  console.error(`unknown benchmark(s): ${unknown.join(", ")}; known: ${ALL.join(", ")}`);
  process.exit(2);
}
const failed: string[] = [];
if (names.some((n) => n !== "engine")) {
  // The pinned control-plane binaries (etcd, kube-apiserver, kwok, KServe): built when missing, a stamp check otherwise.
  const b = spawnSync(join(ROOT, "test", "cluster", "build"), [], { stdio: "inherit", cwd: ROOT });
  if (b.status !== 0) {
    console.error("test/cluster/build failed; see test/cluster/README.md");
    process.exit(1);
  }
}
for (const name of names) {
  console.log(`\n=== ${name} (test/bench/${name}.bench.ts) ===`);
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [join(ROOT, "test", "bench", `${name}.bench.ts`)], { stdio: "inherit", cwd: ROOT });
  console.log(
    `=== ${name}: ${r.status === 0 ? "done" : `FAILED (exit ${r.status ?? r.signal})`} in ${((Date.now() - t0) / 1000).toFixed(0)} s ===`,
  );
  if (r.status !== 0) failed.push(name);
}
process.exit(failed.length > 0 ? 1 : 0);
