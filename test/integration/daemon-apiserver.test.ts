// The daemon across a kube-apiserver restart (its own etcd + apiserver, so the shared cluster is
// not disturbed; no KServe needed: the test reads the annotation the daemon writes). While the
// apiserver is down, changes made just before and after it comes back must still be acted on:
// the watches recover without losing events.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import type { KubernetesObject } from "@kubernetes/client-node";
import { startKubePlane, isvcManifest, createNamespace, type KubePlane } from "./kube-plane.ts";
import { DaemonProcess, apply, schedule, hhmm } from "../support/daemon.ts";
import { eventually, readOrUndefined } from "../support/kube.ts";

let plane: KubePlane;
let daemon: DaemonProcess | undefined;

before(async () => {
  plane = await startKubePlane();
});

after(async () => {
  await daemon?.stop("SIGKILL");
  await plane?.stop();
});

const stopValue = async (ns: string, name: string) =>
  (
    await readOrUndefined<KubernetesObject>(plane.objects, {
      apiVersion: "serving.kserve.io/v1beta1",
      kind: "InferenceService",
      metadata: { name, namespace: ns },
    })
  )?.metadata?.annotations?.["serving.kserve.io/stop"];

test("watches recover after the apiserver restarts; nothing is lost", { timeout: 150_000 }, async () => {
  const ns = "restart";
  await createNamespace(plane.objects, ns);
  // Always Stopped by schedule (an empty uptime list); services are adopted at once.
  await apply(plane.objects, isvcManifest(ns, "before"));
  await apply(plane.objects, schedule(ns, "off", { uptime: [] }));
  daemon = new DaemonProcess("daemon-apiserver", ["--kubeconfig", plane.kubeconfigPath]);
  await daemon.ready();
  await eventually("the first service stopped", async () => (await stopValue(ns, "before")) === "true");

  await plane.stopApiserver();
  await sleep(3_000);
  await plane.startApiserver();
  // Created right after the restart: the daemon only learns of it through a recovered watch.
  await apply(plane.objects, isvcManifest(ns, "after"));
  await eventually("the service created after the restart stopped", async () => (await stopValue(ns, "after")) === "true", {
    timeoutMs: 60_000,
  });

  // And a schedule change is seen too: a window open now starts them again.
  const now = Date.now();
  await apply(plane.objects, schedule(ns, "off", { uptime: [{ days: "*", from: hhmm(now - 60 * 60_000), to: hhmm(now + 60 * 60_000) }] }));
  await eventually(
    "both started again",
    async () => (await stopValue(ns, "before")) === "false" && (await stopValue(ns, "after")) === "false",
    { timeoutMs: 30_000 },
  );
  assert.ok(
    // logged once per failure, by the informer, with the cause (issue 12: not twice as "fetch failed")
    daemon.logs.some((l) => l.msg === "informer: watch failed, retrying"),
    "the daemon saw the outage",
  );
  assert.equal(daemon.proc.exitCode, null, "and kept running");
  // This plane has only the ServingSchedule CRD, as a cluster upgraded before applying the new one:
  // the daemon says so once and works without cluster-wide schedules instead of never syncing.
  assert.ok(daemon.logs.some((l) => l.msg.startsWith("the ClusterServingSchedule CRD is not installed")));
});
