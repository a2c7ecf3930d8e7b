// Pure parts of leader election and kubeconfig loading.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultIdentity, microTime } from "../../../src/sources/kube/lease.ts";
import { KubeConfigError, loadKubeConfig } from "../../../src/sources/kube/client.ts";
import { backoffDelay } from "../../../src/sources/kube/runtime.ts";

test("MicroTime has six fractional digits", () => {
  assert.equal(microTime(Date.UTC(2026, 0, 5, 8, 0, 0, 123)), "2026-01-05T08:00:00.123000Z");
});

test("identity: POD_NAME, else hostname_pid", () => {
  assert.equal(defaultIdentity({ POD_NAME: "reclaimer-7c9-abc" }), "reclaimer-7c9-abc");
  assert.match(defaultIdentity({}), new RegExp(`_${process.pid}$`));
});

test("backoff: exponential, capped, jittered in [base/2, base]", () => {
  const opts = { initialMs: 800, maxMs: 30_000 };
  assert.equal(backoffDelay(0, { ...opts, random: () => 0 }), 400);
  assert.equal(backoffDelay(0, { ...opts, random: () => 1 }), 800);
  assert.equal(backoffDelay(3, { ...opts, random: () => 1 }), 6400);
  assert.equal(backoffDelay(20, { ...opts, random: () => 1 }), 30_000);
  assert.equal(backoffDelay(20, { ...opts, random: () => 0 }), 15_000);
});

const kubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: https://127.0.0.1:6443}
users:
- name: u
  user: {token: abc}
contexts:
- name: ctx
  context: {cluster: c, user: u}
- name: other
  context: {cluster: c, user: u}
current-context: ctx
`;

test("kubeconfig: flag, then KUBECONFIG, with context selection and clear errors", () => {
  const dir = mkdtempSync(join(tmpdir(), "kc-"));
  const file = join(dir, "config");
  writeFileSync(file, kubeconfig);
  const fromFlag = loadKubeConfig({ kubeconfig: file, env: {} });
  assert.equal(fromFlag.source, "flag");
  assert.equal(fromFlag.kubeConfig.getCurrentCluster()?.server, "https://127.0.0.1:6443");
  const fromEnv = loadKubeConfig({ env: { KUBECONFIG: file }, context: "other" });
  assert.equal(fromEnv.source, "env");
  assert.equal(fromEnv.kubeConfig.getCurrentContext(), "other");
  assert.throws(() => loadKubeConfig({ kubeconfig: join(dir, "missing"), env: {} }), KubeConfigError);
  assert.throws(() => loadKubeConfig({ kubeconfig: file, context: "nope", env: {} }), /context nope not found/);
});
