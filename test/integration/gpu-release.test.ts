// GPUs are free when the predictor pods are gone (issue 16), against a plane of its own with kwok's
// general pod stages: the service's pod takes ~30 s to go after KServe deletes its Deployment
// (pod-delete.stage.kwok.x-k8s.io/delay, which KServe copies from the InferenceService to the pod;
// kwok's stage jitters it up to the pod's deletionTimestamp, the end of its 30 s grace period, so
// 40 s asked for is ~30 s measured, as a kubelet would kill a pod at the end of its grace period).
// The real daemon must report the release only then, count GPU-hours from then, and warn when the
// pods outlive --confirm-stop-timeout.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { KubernetesObject, KubernetesObjectApi } from "@kubernetes/client-node";
import { startCluster, type Cluster } from "../support/cluster.ts";
import { eventually, readOrUndefined, condition, type InferenceService } from "../support/kube.ts";
import { DaemonProcess, kube, installCrd, apply, createNamespace, gpuService, schedule } from "../support/daemon.ts";

const NS = `gpurel-${Date.now().toString(36).slice(-5)}`;
const NAME = "llama";
const POD_DELETE_DELAY_S = 40;
const GPUS = 2;

type Entry = { name: string; state: string; gpusReleased?: boolean; gpusReleasedAt?: string };
type Status = { services?: Entry[]; gpusReclaimed?: number; gpuHoursReclaimed?: number };

describe("GPUs released when the last predictor pod is gone (kwok general pod stages)", { timeout: 600_000 }, () => {
  let cluster: Cluster | undefined;
  let objects: KubernetesObjectApi;
  let daemon: DaemonProcess | undefined;
  const parent = mkdtempSync(join(tmpdir(), "kserve-reclaimer-gpurel-"));

  const readIsvc = () =>
    readOrUndefined<InferenceService & { metadata: { annotations?: Record<string, string> } }>(objects, {
      apiVersion: "serving.kserve.io/v1beta1",
      kind: "InferenceService",
      metadata: { name: NAME, namespace: NS },
    });
  const pods = async () =>
    (
      await objects.list<KubernetesObject & { metadata: { deletionTimestamp?: string } }>(
        "v1",
        "Pod",
        NS,
        undefined,
        undefined,
        undefined,
        undefined,
        `serving.kserve.io/inferenceservice=${NAME}`,
      )
    ).items;
  const status = async () =>
    (
      await readOrUndefined<KubernetesObject & { status?: Status }>(objects, {
        apiVersion: "reclaimer.dev/v1alpha1",
        kind: "ServingSchedule",
        metadata: { name: "never", namespace: NS },
      })
    )?.status;
  const entry = async () => (await status())?.services?.find((s) => s.name === NAME);

  before(async () => {
    // the runner's plane has the fast stages; this one terminates pods as a kubelet would
    cluster = await startCluster({ podStages: "general", nodes: 1, build: false, dir: join(parent, "cluster"), log: () => {} });
    const client = kube(cluster.kubeconfigPath);
    objects = client.objects;
    await installCrd(client.kc);
    await createNamespace(objects, NS);
    await apply(
      objects,
      gpuService(NS, NAME, { gpus: GPUS, annotations: { "pod-delete.stage.kwok.x-k8s.io/delay": `${POD_DELETE_DELAY_S}s` } }),
    );
    await eventually(`${NS}/${NAME} Ready=True`, async () => condition(await readIsvc(), "Ready")?.status === "True", {
      timeoutMs: 180_000,
    });
  });

  after(async () => {
    const code = await daemon?.stop("SIGTERM");
    await cluster?.stop();
    rmSync(parent, { recursive: true, force: true });
    assert.equal(code, 0, "SIGTERM ends the daemon cleanly");
  });

  test("the release is the instant the pod is gone, ~30 s after the stop; GPU-hours count from there; the Warning names the terminating pod", async () => {
    assert.equal((await pods()).length, 1, "one predictor pod before the stop");
    // never up: the daemon stops the service as soon as it starts
    await apply(objects, schedule(NS, "never", { uptime: [] }));
    daemon = new DaemonProcess("daemon-gpu-release", [
      "--kubeconfig",
      cluster!.kubeconfigPath,
      "--namespaces",
      NS,
      "--confirm-stop-timeout",
      "15s",
    ]);
    await daemon.ready(60_000);

    const stoppedAt = await eventually(
      "the daemon's stop record",
      async () => {
        const raw = (await readIsvc())?.metadata.annotations?.["reclaimer.dev/state"];
        return raw === undefined ? undefined : Date.parse((JSON.parse(raw) as { at: string }).at);
      },
      { timeoutMs: 30_000 },
    );
    // KServe confirms (Deployment deleted) long before the pod is gone
    await eventually("Stopped=True while the pod terminates", async () => condition(await readIsvc(), "Stopped")?.status === "True", {
      timeoutMs: 30_000,
    });
    const terminating = await pods();
    assert.equal(terminating.length, 1, "the pod is still there");
    assert.ok(terminating[0]?.metadata.deletionTimestamp, "and terminating");
    const releasing = await eventually("status: gpusReleased false", async () => {
      const e = await entry();
      return e?.state === "Stopped" && e.gpusReleased === false ? e : undefined;
    });
    assert.equal(releasing.gpusReleasedAt, undefined);
    assert.equal((await status())?.gpusReclaimed, 0, "GPUs held by a terminating pod are not reclaimed");
    assert.ok((await pods()).length === 1, "the pod was still there when the status said so");

    const goneAt = await eventually("the pod is gone", async () => ((await pods()).length === 0 ? Date.now() : undefined), {
      timeoutMs: 120_000,
      intervalMs: 250,
    });
    const released = await eventually("status: gpusReleased true", async () => {
      const e = await entry();
      return e?.gpusReleased === true ? e : undefined;
    });
    const releasedAt = Date.parse(released.gpusReleasedAt ?? "");
    assert.ok(releasedAt - stoppedAt >= 20_000, `released ${(releasedAt - stoppedAt) / 1000}s after the stop: only once the pod was gone`);
    assert.ok(
      Math.abs(releasedAt - goneAt) < 5_000,
      `released at ${released.gpusReleasedAt}, pod seen gone ${new Date(goneAt).toISOString()}`,
    );
    const after = await status();
    assert.equal(after?.gpusReclaimed, GPUS);
    // counted from the annotation this would be 2 GPUs x ~30 s = 0.017 GPU-hours already
    const fromStop = (GPUS * (releasedAt - stoppedAt)) / 3_600_000;
    assert.ok(
      (after?.gpuHoursReclaimed ?? 1) < fromStop / 2,
      `${after?.gpuHoursReclaimed} GPU-hours written at the release (${fromStop.toFixed(3)} from the stop)`,
    );

    const text = await daemon.metrics();
    const line = (name: string) => text.split("\n").find((l) => l.startsWith(name));
    assert.match(line("kserve_reclaimer_gpu_release_seconds_count") ?? "", /\{mode="Standard"\} 1$/);
    const seconds = Number(line("kserve_reclaimer_gpu_release_seconds_sum")?.split(" ")[1]);
    assert.ok(seconds >= 20 && seconds < 120, `${seconds} s from the stop to the release`);

    const events = await objects.list<
      KubernetesObject & { reason: string; type: string; message: string; involvedObject: { name: string } }
    >("v1", "Event", NS);
    // KServe's own InferenceServiceNotReady is there too; the daemon's: one GPUsNotReleased, for the pod (Stopped=True came in time)
    const warnings = events.items.filter((e) => e.involvedObject.name === NAME && e.type === "Warning" && e.reason === "GPUsNotReleased");
    assert.equal(warnings.length, 1, JSON.stringify(warnings.map((e) => e.message)));
    assert.match(warnings[0]?.message ?? "", /^1 predictor pod\(s\) still terminating 1\ds after the stop/);
  });
});
