// The EventRecorder against an in-memory apiserver: one Event per distinct message, repeats
// counted on it at most once per interval, a spam filter per object, failures as results.
import { test } from "node:test";
import assert from "node:assert/strict";
import { EventRecorder, type InvolvedObject } from "../../../src/act/events.ts";
import { WriteLimiter } from "../../../src/act/writeLimiter.ts";
import { apiError, FakeCoreEvents, FakeTimers, kubeConfigFor } from "../sources/kube-fakes.ts";

const llama: InvolvedObject = {
  apiVersion: "serving.kserve.io/v1beta1",
  kind: "InferenceService",
  namespace: "ml",
  name: "llama",
  uid: "u1",
};

function setup(opts: { spamBurst?: number } = {}) {
  const api = new FakeCoreEvents();
  const timers = new FakeTimers();
  const recorder = new EventRecorder({
    kubeConfig: kubeConfigFor(api),
    limiter: new WriteLimiter(),
    reportingInstance: "pod-1",
    timers,
    ...opts,
  });
  return { api, timers, recorder };
}

test("an Event names its object, reason and reporter", async () => {
  const { api, recorder } = setup();
  const r = await recorder.recordAsync(llama, "Normal", "Stopped", "outside all uptime windows");
  assert.equal(r.kind, "created");
  const [e] = [...api.events.values()] as { involvedObject: InvolvedObject; reason: string; count: number; reportingComponent: string }[];
  assert.equal(e?.involvedObject.name, "llama");
  assert.equal(e?.involvedObject.uid, "u1");
  assert.equal(e?.reason, "Stopped");
  assert.equal(e?.count, 1);
  assert.equal(e?.reportingComponent, "reclaimer.dev/kserve-reclaimer");
});

test("repeats are counted on one Event, written at most once per interval; flush writes what is still counted", async () => {
  const { api, timers, recorder } = setup();
  await recorder.recordAsync(llama, "Warning", "NotConfirmed", "KServe has not set Stopped=True");
  for (let i = 0; i < 10; i++)
    assert.equal((await recorder.recordAsync(llama, "Warning", "NotConfirmed", "KServe has not set Stopped=True")).kind, "deferred");
  assert.deepEqual(api.calls, ["create"]);
  await timers.advance(60_000);
  assert.deepEqual(api.calls, ["create", "patch"]);
  assert.equal([...api.events.values()][0]?.count, 11);
  await recorder.recordAsync(llama, "Warning", "NotConfirmed", "KServe has not set Stopped=True");
  await recorder.flush();
  assert.equal([...api.events.values()][0]?.count, 12);
  assert.equal(api.events.size, 1);
});

test("the spam filter drops what is past the burst for one object, not for others", async () => {
  const { api, recorder } = setup({ spamBurst: 3 });
  const kinds = [];
  for (let i = 0; i < 5; i++) kinds.push((await recorder.recordAsync(llama, "Warning", "Invalid", `problem ${i}`)).kind);
  assert.deepEqual(kinds, ["created", "created", "created", "dropped", "dropped"]);
  const other = { ...llama, name: "mistral", uid: "u2" };
  assert.equal((await recorder.recordAsync(other, "Warning", "Invalid", "problem 0")).kind, "created");
  assert.equal(api.events.size, 4);
});

test("a failed write is a result and a log line, never an exception; record() never rejects", async () => {
  const { api, recorder } = setup();
  api.failing = apiError(403, "Forbidden", "events is forbidden");
  const r = await recorder.recordAsync(llama, "Normal", "Started", "window opened");
  assert.deepEqual(r, { kind: "error", code: 403, message: "events is forbidden" });
  recorder.record(llama, "Normal", "Started", "again");
  await recorder.flush();
});
