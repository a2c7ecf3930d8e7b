// test/cluster/up and test/cluster/down: start the local control plane and leave
// it running (processes detached, recorded by pid in <dir>/cluster.json), or
// stop every process it recorded and remove the directory.
import { parseArgs } from "node:util";
import { existsSync, rmSync } from "node:fs";
import { readState, processGroupMembers } from "../support/processes.ts";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { startCluster, stopClusterDir, CLUSTER_ENV_FILE } from "../support/cluster.ts";

const defaultDir = join(tmpdir(), "kserve-reclaimer-cluster");
const [command, ...rest] = process.argv.slice(2);
const { values } = parseArgs({
  args: rest,
  options: {
    dir: { type: "string", default: defaultDir },
    nodes: { type: "string", default: "4" },
    "gpus-per-node": { type: "string", default: "4" },
    "keep-dir": { type: "boolean", default: false },
    "pod-stages": { type: "string", default: "fast" },
    "kserve-ingress": { type: "string", default: "ingress" },
    serverless: { type: "boolean", default: false },
  },
});

function positiveInt(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`--${name} must be a positive integer, got ${JSON.stringify(value)}`);
    process.exit(2);
  }
  return n;
}

if (command === "up") {
  const nodes = positiveInt("nodes", values.nodes);
  const gpusPerNode = positiveInt("gpus-per-node", values["gpus-per-node"]);
  const podStages = values["pod-stages"];
  if (podStages !== "fast" && podStages !== "general") {
    console.error(`--pod-stages must be fast or general, got ${JSON.stringify(podStages)}`);
    process.exit(2);
  }
  const kserveIngress = values["kserve-ingress"];
  if (kserveIngress !== "ingress" && kserveIngress !== "gateway-api") {
    console.error(`--kserve-ingress must be ingress or gateway-api, got ${JSON.stringify(kserveIngress.slice(0, 40))}`);
    process.exit(2);
  }
  const statePath = join(values.dir, "cluster.json");
  if (existsSync(statePath) && readState(statePath).components.every((c) => processGroupMembers(c.pid).length === 0)) {
    rmSync(values.dir, { recursive: true, force: true }); // left over from a failed start: nothing runs
  }
  if (existsSync(statePath)) {
    console.error(
      `a cluster is already recorded in ${values.dir}; run test/cluster/down${values.dir === defaultDir ? "" : ` --dir ${values.dir}`} first`,
    );
    process.exit(1);
  }
  const abort = new AbortController();
  const interrupt = () => abort.abort();
  process.on("SIGINT", interrupt);
  process.on("SIGTERM", interrupt);
  try {
    const cluster = await startCluster({
      dir: values.dir,
      nodes,
      gpusPerNode,
      podStages,
      kserveIngress,
      knative: values.serverless,
      signal: abort.signal,
    });
    console.log(
      `# cluster is up; logs in ${cluster.dir}/logs; stop it with test/cluster/down${values.dir === defaultDir ? "" : ` --dir ${values.dir}`}`,
    );
    console.log(`# source ${join(cluster.dir, CLUSTER_ENV_FILE)}`);
    for (const [k, v] of Object.entries(cluster.env)) console.log(`export ${k}=${v}`);
    process.exit(0);
  } catch (err) {
    console.error(`test/cluster/up failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
} else if (command === "down") {
  if (!existsSync(join(values.dir, "cluster.json"))) {
    console.error(`no cluster recorded in ${values.dir}`);
    process.exit(0);
  }
  try {
    await stopClusterDir(values.dir, { keepDir: values["keep-dir"] });
    process.exit(0);
  } catch (err) {
    console.error(`test/cluster/down failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
} else {
  console.error(
    "usage: test/cluster/up|down [--dir DIR] [--nodes N] [--gpus-per-node G] [--pod-stages fast|general] [--kserve-ingress ingress|gateway-api] [--serverless] [--keep-dir]",
  );
  process.exit(2);
}
