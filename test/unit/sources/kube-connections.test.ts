import { test } from "node:test";
import assert from "node:assert/strict";
import { KubeConfig } from "@kubernetes/client-node";
import { reuseConnections } from "../../../src/sources/kube/client.ts";

type Factory = { createDispatcher(cluster: unknown, options: Record<string, unknown>): { close(): Promise<void> } | undefined };

test("one connection pool is reused while the connection settings stay the same, replaced when they change", async () => {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "c", server: "https://127.0.0.1:6443", skipTLSVerify: false }],
    users: [{ name: "u", token: "t" }],
    contexts: [{ name: "ctx", cluster: "c", user: "u" }],
    currentContext: "ctx",
  });
  reuseConnections(kc);
  const f = kc as unknown as Factory;
  const cluster = kc.getCurrentCluster();
  const a = f.createDispatcher(cluster, { ca: Buffer.from("ca-1") });
  const b = f.createDispatcher(cluster, { ca: Buffer.from("ca-1") });
  assert.ok(a !== undefined);
  assert.equal(a, b, "the same settings reuse the pool (client-node 2.0 made one per request)");
  const c = f.createDispatcher(cluster, { ca: Buffer.from("ca-2") });
  assert.notEqual(c, a, "a rotated CA gets a new pool");
  await c?.close();
});
