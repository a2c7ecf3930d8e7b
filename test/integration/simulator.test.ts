// The traffic simulator: its logic with a fake clock and readiness, and its
// HTTP control endpoint against the shared cluster.
import { describe, test, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import type { KubernetesObject } from "@kubernetes/client-node";
import { SimulatorCore, SimulatorClient } from "../support/simulator.ts";
import { clusterFromEnv } from "../support/cluster.ts";
import { eventually, kubeClient } from "../support/kube.ts";

function fakeCluster(initiallyReady: boolean) {
  const state = { ready: initiallyReady, now: 0 };
  const core = new SimulatorCore({ exists: () => true, ready: () => state.ready, known: () => ["ml/a"] }, () => state.now);
  const advance = (ms: number) => {
    for (let t = 0; t < ms; t += 100) {
      state.now += 100;
      core.tick();
    }
  };
  return { state, core, advance };
}

const sample = (text: string, prefix: string) => text.split("\n").find((l) => l.startsWith(prefix));

describe("simulator logic (fake clock)", () => {
  test("sends rps x seconds requests, then stops by itself", () => {
    const { core, advance } = fakeCluster(true);
    core.send("ml/a", { rps: 5, seconds: 2 });
    advance(5_000);
    const [report] = core.report();
    assert.equal(report?.served, 10);
    assert.equal(report?.load, null);
  });

  test("series exist only while ready, and restart from zero like a new server process", () => {
    const { state, core, advance } = fakeCluster(true);
    core.send("ml/a", { rps: 10, seconds: 1 });
    advance(1_000);
    assert.equal(
      sample(core.metrics(), 'request_predict_seconds_count{namespace="ml",model_name="a"}'),
      'request_predict_seconds_count{namespace="ml",model_name="a"} 10',
    );
    assert.equal(
      sample(core.metrics(), "vllm:request_success_total{"),
      'vllm:request_success_total{namespace="ml",model_name="a",finished_reason="stop"} 10',
    );
    assert.equal(sample(core.metrics(), "revision_app_request_count{")?.includes('service_name="a-predictor"'), true);
    assert.equal(sample(core.metrics(), "istio_requests_total{")?.includes('destination_service_namespace="ml"'), true);

    state.ready = false;
    core.send("ml/a", { rps: 10, seconds: 1 });
    advance(1_000);
    assert.equal(sample(core.metrics(), "request_predict_seconds_count"), undefined, "absent while stopped");
    assert.equal(
      sample(core.metrics(), 'kserve_reclaimer_simulator_requests_total{namespace="ml",inferenceservice="a",outcome="rejected"}')?.endsWith(
        " 10",
      ),
      true,
    );

    state.ready = true;
    core.send("ml/a", { rps: 3, seconds: 1 });
    advance(1_000);
    assert.equal(sample(core.metrics(), "request_predict_seconds_count{")?.endsWith(" 3"), true, "a new incarnation counts from zero");
    assert.equal(core.report()[0]?.incarnations, 2);
  });

  test("rejects bad targets and loads", () => {
    const { core } = fakeCluster(true);
    assert.throws(() => core.send("no-namespace", { rps: 1, seconds: 1 }), /namespace/);
    assert.throws(() => core.send("ml/a", { rps: 0, seconds: 1 }), /rps/);
  });
});

describe("simulator HTTP control endpoint (shared cluster)", () => {
  const env = clusterFromEnv();
  const sim = new SimulatorClient(env.simulatorUrl);
  const { objects } = kubeClient(env.kubeconfigPath);
  const ns = `sim-${randomBytes(3).toString("hex")}`;

  after(async () => {
    await sim.stop();
    await objects.delete({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } } as KubernetesObject).catch(() => {});
  });

  test("an InferenceService that does not exist is never served; a bad request is a 400", async () => {
    assert.equal(await sim.predict(`${ns}/ghost`), 503);
    await assert.rejects(sim.send("ghost", { rps: 1, seconds: 1 }), /400/);
  });

  test("send/stop over HTTP drive the requests of an InferenceService whose pod is Ready", async () => {
    await objects.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } } as KubernetesObject);
    await objects.create({
      apiVersion: "serving.kserve.io/v1beta1",
      kind: "InferenceService",
      metadata: { name: "echo", namespace: ns },
      spec: {
        predictor: {
          containers: [{ name: "kserve-container", image: "registry.invalid/echo:1", resources: { limits: { "nvidia.com/gpu": "1" } } }],
        },
      },
    } as KubernetesObject);
    await eventually("the simulator sees echo Ready", async () => (await sim.service(`${ns}/echo`))?.ready, { timeoutMs: 60_000 });
    await sim.send(`${ns}/echo`, { rps: 20, seconds: 60 });
    await eventually("requests are served", async () => ((await sim.service(`${ns}/echo`))?.served ?? 0) >= 5, { timeoutMs: 10_000 });
    await sim.stop(`${ns}/echo`);
    const stopped = await sim.service(`${ns}/echo`);
    assert.equal(stopped?.load, null);
    const served = stopped?.served ?? 0;
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await sim.service(`${ns}/echo`))?.served, served, "no more requests after stop");
  });
});
