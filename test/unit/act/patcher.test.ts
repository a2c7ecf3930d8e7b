// The AnnotationPatcher against an in-memory apiserver: the stale-resourceVersion precondition,
// re-reading on 409 when asked to, retrying transient failures, and never throwing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { AnnotationPatcher } from "../../../src/act/patcher.ts";
import { WriteLimiter } from "../../../src/act/writeLimiter.ts";
import { ISVC_RESOURCE } from "../../../src/sources/kube/inferenceService.ts";
import { apiError, FakeCustomObjects, FakeTimers, kubeConfigFor } from "../sources/kube-fakes.ts";

const NS = { ...ISVC_RESOURCE, namespace: "ml" };

function setup() {
  const api = new FakeCustomObjects();
  api.put(NS, { metadata: { name: "llama", namespace: "ml", annotations: { team: "a" } } });
  const timers = new FakeTimers();
  const patcher = new AnnotationPatcher({ kubeConfig: kubeConfigFor(api), limiter: new WriteLimiter(), timers });
  return { api, timers, patcher };
}

test("sets and removes annotations with the resourceVersion it decided on", async () => {
  const { api, patcher } = setup();
  const rv = api.get(NS, "llama")?.metadata.resourceVersion;
  const r = await patcher.patchAnnotations("ml", "llama", { "serving.kserve.io/stop": "true", team: null }, { resourceVersion: rv });
  assert.equal(r.kind, "ok");
  assert.deepEqual(r.kind === "ok" ? r.annotations : undefined, { "serving.kserve.io/stop": "true" });
  assert.deepEqual(api.get(NS, "llama")?.metadata.annotations, { "serving.kserve.io/stop": "true" });
});

test("a stale resourceVersion is a conflict, and nothing is written", async () => {
  const { api, patcher } = setup();
  const r = await patcher.patchAnnotations("ml", "llama", { "serving.kserve.io/stop": "true" }, { resourceVersion: "0" });
  assert.equal(r.kind, "conflict");
  assert.deepEqual(api.get(NS, "llama")?.metadata.annotations, { team: "a" });
});

test("with onConflict: re-reads the object, asks again, and patches with the fresh resourceVersion; null gives up", async () => {
  const { api, patcher } = setup();
  const seen: (string | undefined)[] = [];
  const r = await patcher.patchAnnotations(
    "ml",
    "llama",
    { "serving.kserve.io/stop": "true" },
    {
      resourceVersion: "0",
      onConflict: (fresh) => {
        seen.push(fresh.metadata.annotations?.team);
        return { "serving.kserve.io/stop": "true", seen: "yes" };
      },
    },
  );
  assert.equal(r.kind, "ok");
  assert.deepEqual(seen, ["a"]);
  assert.equal(api.get(NS, "llama")?.metadata.annotations?.seen, "yes");
  const given = await patcher.patchAnnotations("ml", "llama", { x: "1" }, { resourceVersion: "0", onConflict: () => null });
  assert.equal(given.kind, "conflict");
});

test("a 500 is retried with backoff and succeeds; one that persists is an error result, never an exception", async () => {
  const { api, timers, patcher } = setup();
  api.failNext("patch", apiError(500, "InternalError", "etcd is sad"));
  const ok = patcher.patchAnnotations("ml", "llama", { a: "1" });
  await timers.advance(1_000);
  assert.equal((await ok).kind, "ok");
  assert.equal(api.calls.filter((c) => c.verb === "patch").length, 2);

  api.failNext("patch", apiError(503, "ServiceUnavailable", "try later"), 3);
  const failed = patcher.patchAnnotations("ml", "llama", { a: "2" });
  await timers.advance(5_000);
  const r = await failed;
  assert.equal(r.kind, "error");
  assert.equal(r.kind === "error" ? r.code : undefined, 503);
  assert.equal(r.kind === "error" ? r.message : undefined, "try later");
});

test("a missing object is notFound; a 403 is not retried", async () => {
  const { api, patcher } = setup();
  assert.equal((await patcher.patchAnnotations("ml", "nope", { a: "1" })).kind, "notFound");
  api.failNext("patch", apiError(403, "Forbidden"));
  const before = api.calls.length;
  const r = await patcher.patchAnnotations("ml", "llama", { a: "1" });
  assert.equal(r.kind, "error");
  assert.equal(api.calls.length - before, 1);
});
