// test/cluster/up starts a second, independent control plane; test/cluster/down
// must leave no process and no listening port behind.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { mkdtempSync, existsSync, rmSync } from "node:fs";
import { join, dirname, resolve } from "node:path";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { readState, isAlive, listeningPorts, processGroupMembers } from "../support/processes.ts";

const run = promisify(execFile);
const clusterDir = resolve(dirname(fileURLToPath(import.meta.url)), "..", "cluster");

test("test/cluster/down leaves no process and no listening port behind", { timeout: 300_000 }, async () => {
  const dir = join(mkdtempSync(join(tmpdir(), "kserve-reclaimer-downtest-")), "cluster");
  try {
    await run(join(clusterDir, "up"), ["--dir", dir, "--nodes", "1"], { timeout: 240_000 });
    const state = readState(join(dir, "cluster.json"));
    const names = state.components.map((c) => c.name);
    for (const expected of [
      "etcd",
      "kube-apiserver",
      "kube-controller-manager",
      "kube-scheduler",
      "kwok",
      "kserve-manager",
      "simulator",
      "prometheus",
    ]) {
      assert.ok(names.includes(expected), `${expected} was started`);
    }
    const listening = listeningPorts();
    for (const c of state.components) {
      assert.ok(isAlive(c.pid), `${c.name} (pid ${c.pid}) runs after up`);
    }
    const ports = state.components.flatMap((c) => c.ports);
    assert.ok(
      ports.some((p) => listening.has(p)),
      "the components listen after up",
    );

    await run(join(clusterDir, "down"), ["--dir", dir], { timeout: 120_000 });

    const after = listeningPorts();
    for (const c of state.components) {
      assert.equal(isAlive(c.pid), false, `${c.name} (pid ${c.pid}) is gone`);
      assert.deepEqual(processGroupMembers(c.pid), [], `${c.name}'s process group is empty`);
      for (const p of c.ports) assert.equal(after.has(p), false, `${c.name} port ${p} is closed`);
    }
    assert.equal(existsSync(dir), false, "down removed the cluster directory");
  } finally {
    if (existsSync(join(dir, "cluster.json"))) {
      await run(join(clusterDir, "down"), ["--dir", dir]).catch(() => {});
    }
    rmSync(dirname(dir), { recursive: true, force: true });
  }
});
