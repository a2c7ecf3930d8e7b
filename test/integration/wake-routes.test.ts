// Wake on request, the daemon's side, against the real kube-apiserver and the real KServe v0.16.0
// controller: a wake-enabled service that the schedule stops gets its wake route `<isvc>-wake`
// BEFORE the stop annotation (etcd revisions of one watch each, compared), KServe deletes its own
// route, a POST to the daemon's wake API with the waker's real ServiceAccount token (TokenRequest,
// audience kserve-reclaimer-wake; checked by a real TokenReview) starts it once with reason
// Request, and the wake route goes away after Ready while KServe's own route is back. A person's
// stop is Refused and has no wake route; no token, another audience or another ServiceAccount are
// 401/403. A start that cannot be scheduled (17 GPUs, nodes of 4) ends in a Warning Event with the
// scheduler's message. Ingress mode on the runner's plane; Gateway API mode on a second plane
// (startCluster({ kserveIngress: "gateway-api" })), where the wake HTTPRoute must be older than the
// HTTPRoutes KServe recreates, and a ReferenceGrant lets it reach the waker's namespace.
// No waker runs here (another module): the wake routes point at a Service name only.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { CoreV1Api, type KubeConfig, Watch, type KubernetesObject } from "@kubernetes/client-node";
import { clusterFromEnv, startCluster, KSERVE_GATEWAY, type Cluster } from "../support/cluster.ts";
import { condition, eventually, readOrUndefined, type InferenceService } from "../support/kube.ts";
import {
  DaemonProcess,
  apply,
  createNamespace,
  gpuService,
  hhmm,
  installCrd,
  kube,
  metricValue,
  nextBoundary,
  schedule,
  sleepUntil,
} from "../support/daemon.ts";

const STOP = "serving.kserve.io/stop";
const STATE = "reclaimer.dev/state";
const AUDIENCE = "kserve-reclaimer-wake";
const GW = "gateway.networking.k8s.io/v1";

type Meta = {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  creationTimestamp?: string | Date;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: { uid: string; kind: string; controller?: boolean }[];
};
type Obj = KubernetesObject & {
  metadata: Meta;
  spec?: Record<string, unknown>;
  status?: { conditions?: { type: string; status: string }[] };
};

const ref = (apiVersion: string, kind: string, namespace: string, name: string) => ({ apiVersion, kind, metadata: { name, namespace } });
// client-node returns its model classes: compared as plain JSON, as the apiserver sent them
const plain = <T>(x: T): T => (x === undefined ? x : (JSON.parse(JSON.stringify(x)) as T));
const created = (o: Obj | undefined) => Date.parse(String(o?.metadata.creationTimestamp));

/** A bound token of `namespace/sa` for `audiences` (empty: the apiserver's own). */
async function token(kc: KubeConfig, namespace: string, sa: string, audiences: string[]): Promise<string> {
  const r = await kc.makeApiClient(CoreV1Api).createNamespacedServiceAccountToken({
    name: sa,
    namespace,
    body: { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { audiences, expirationSeconds: 3600 } },
  });
  if (!r.status?.token) throw new Error(`no token for ${namespace}/${sa}`);
  return r.status.token;
}

type WakeReply = { status: number; body: Record<string, unknown> };

async function wake(daemon: DaemonProcess, host: string, bearer: string | undefined): Promise<WakeReply> {
  const res = await fetch(`http://127.0.0.1:${daemon.port}/wake/v1/requests`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(bearer === undefined ? {} : { authorization: `Bearer ${bearer}` }) },
    body: JSON.stringify({ host }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Watches a collection and keeps every event with its etcd revision (resourceVersion) and the object. */
async function record(
  kc: KubeConfig,
  path: string,
): Promise<{ events: { type: string; rv: number; obj: Obj }[]; ended: string[]; stop(): void }> {
  const events: { type: string; rv: number; obj: Obj }[] = [];
  const ended: string[] = [];
  let stopped = false;
  let current: AbortController | undefined;
  // client-node ends quiet watches: reopen from the last revision seen, so no event is missed
  const open = async (resourceVersion: string | undefined): Promise<void> => {
    current = await new Watch(kc).watch(
      path,
      resourceVersion === undefined ? {} : { resourceVersion },
      (type, obj: Obj) => events.push({ type, rv: Number(obj.metadata.resourceVersion), obj }),
      (err: unknown) => {
        ended.push(err instanceof Error ? err.message : String(err ?? "ended"));
        const last = events.at(-1)?.obj.metadata.resourceVersion;
        if (!stopped) open(last).catch((e: unknown) => ended.push(String(e)));
      },
    );
  };
  await open(undefined);
  return {
    events,
    ended,
    stop: () => {
      stopped = true;
      current?.abort();
    },
  };
}

type Mode = "ingress" | "gateway-api";

/** One run of the scenario on a plane; the Ingress and Gateway API variants differ in the route kind only. */
async function scenario(mode: Mode, kubeconfigPath: string): Promise<void> {
  const { kc, objects } = kube(kubeconfigPath);
  const ns = `wake-${mode === "ingress" ? "ing" : "gw"}-${randomBytes(3).toString("hex")}`;
  const wakerNs = `${ns}-sys`;
  const host = (name: string) => `${name}-${ns}.example.com`;
  await installCrd(kc);
  await createNamespace(objects, ns);
  await createNamespace(objects, wakerNs);
  for (const sa of ["waker", "other"])
    await apply(objects, { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: sa, namespace: wakerNs } } as KubernetesObject);
  const wakerToken = await token(kc, wakerNs, "waker", [AUDIENCE]);
  const otherToken = await token(kc, wakerNs, "other", [AUDIENCE]);
  const apiAudienceToken = await token(kc, wakerNs, "waker", []);

  await objects.create(gpuService(ns, "llama"));
  // a person stopped this one: it is never woken, and gets no wake route
  await objects.create(gpuService(ns, "manual", { annotations: { [STOP]: "true" } }));
  // 17 GPUs on nodes of 4: it can be stopped and started, but its pod never schedules
  await objects.create(gpuService(ns, "huge", { gpus: 17 }));
  // someone else's object of a wake route's name: never touched
  const foreign = {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "manual-wake", namespace: ns, labels: { "reclaimer.dev/wake-for": "manual" } },
    spec: { type: "ExternalName", externalName: "example.org" },
  } as KubernetesObject;
  await objects.create(foreign);
  const read = async (spec: { apiVersion: string; kind: string; metadata: { name: string; namespace: string } }) =>
    plain(await readOrUndefined<Obj>(objects, spec));
  const isvc = (name: string) => read(ref("serving.kserve.io/v1beta1", "InferenceService", ns, name));
  const ready = async (name: string) => condition((await isvc(name)) as InferenceService | undefined, "Ready")?.status === "True";
  const kserveRoutes = async (name: string): Promise<Obj[]> =>
    mode === "ingress"
      ? [await read(ref("networking.k8s.io/v1", "Ingress", ns, name))].filter((x): x is Obj => x !== undefined)
      : [await read(ref(GW, "HTTPRoute", ns, name)), await read(ref(GW, "HTTPRoute", ns, `${name}-predictor`))].filter(
          (x): x is Obj => x !== undefined,
        );
  const wakeRoute = (name: string) =>
    read(mode === "ingress" ? ref("networking.k8s.io/v1", "Ingress", ns, `${name}-wake`) : ref(GW, "HTTPRoute", ns, `${name}-wake`));
  const wakeService = (name: string) => read(ref("v1", "Service", ns, `${name}-wake`));
  const describe = async () =>
    `llama: ${JSON.stringify((await isvc("llama"))?.metadata.annotations)} ${JSON.stringify((await isvc("llama"))?.status?.conditions)}\nwake route: ${JSON.stringify((await wakeRoute("llama"))?.metadata)}\ndaemon:\n${daemon.tail(10)}`;

  await eventually("llama Ready with KServe's route", async () => (await ready("llama")) && (await kserveRoutes("llama")).length > 0, {
    timeoutMs: 90_000,
  });

  // Running now, Stopped from B0; wake on request needs an idle policy (no Prometheus: traffic unknown, KeepRunning)
  const B0 = nextBoundary(25_000);
  await apply(
    objects,
    schedule(ns, "office", {
      timeZone: "UTC",
      uptime: [{ days: "*", from: hhmm(B0 - 10 * 60_000), to: hhmm(B0) }],
      idle: { after: "10m" },
      wake: { onRequest: true, timeout: "1m", maxHeldRequests: 5 },
    }),
  );
  const args = [
    "--kubeconfig",
    kubeconfigPath,
    "--namespaces",
    ns,
    "--waker-service",
    `${wakerNs}/waker:80`,
    "--waker-service-account",
    `system:serviceaccount:${wakerNs}:waker`,
    "--confirm-start-timeout",
    "20s",
  ];
  let daemon = new DaemonProcess(`wake-${mode}`, args);
  const isvcWatch = await record(kc, `/apis/serving.kserve.io/v1beta1/namespaces/${ns}/inferenceservices`);
  const routeWatch = await record(
    kc,
    mode === "ingress"
      ? `/apis/networking.k8s.io/v1/namespaces/${ns}/ingresses`
      : `/apis/gateway.networking.k8s.io/v1/namespaces/${ns}/httproutes`,
  );
  try {
    await daemon.ready();
    await sleepUntil(B0);

    // 1. the wake route first, then the stop; KServe then deletes its own route
    await eventually(
      "llama Stopped=True and KServe's route gone",
      async () =>
        (await isvc("llama"))?.status?.conditions?.some((c) => c.type === "Stopped" && c.status === "True") &&
        (await kserveRoutes("llama")).length === 0,
      { timeoutMs: 60_000, describe },
    );
    const stopEvent = isvcWatch.events.find((e) => e.obj.metadata.name === "llama" && e.obj.metadata.annotations?.[STOP] === "true");
    const routeAdded = routeWatch.events.find((e) => e.type === "ADDED" && e.obj.metadata.name === "llama-wake");
    assert.ok(
      stopEvent && routeAdded,
      `both the stop and the wake route were seen: ${isvcWatch.events.length} service events (${JSON.stringify(isvcWatch.ended)}), ${routeWatch.events.map((e) => `${e.type} ${e.obj.metadata.name}`).join(", ")} (${JSON.stringify(routeWatch.ended)})`,
    );
    // one etcd: revisions are one global sequence
    assert.ok(routeAdded.rv < stopEvent.rv, `wake route (rv ${routeAdded.rv}) written before the stop annotation (rv ${stopEvent.rv})`);
    const llamaUid = (await isvc("llama"))?.metadata.uid;
    const route = await wakeRoute("llama");
    assert.ok(route);
    assert.equal(route.metadata.labels?.["app.kubernetes.io/managed-by"], "kserve-reclaimer");
    assert.equal(route.metadata.labels?.["reclaimer.dev/wake-for"], "llama");
    assert.deepEqual(
      route.metadata.ownerReferences?.map((o) => [o.kind, o.uid, o.controller ?? false]),
      [["InferenceService", llamaUid, false]],
    );
    if (mode === "ingress") {
      const spec = route.spec as {
        rules: { host: string; http: { paths: { backend: { service: { name: string; port: { number: number } } } }[] } }[];
      };
      assert.deepEqual(
        spec.rules.map((r) => r.host),
        [host("llama"), `llama-predictor-${ns}.example.com`],
      );
      assert.deepEqual(spec.rules[0]?.http.paths[0]?.backend.service, { name: "llama-wake", port: { number: 80 } });
      const svc = await wakeService("llama");
      assert.deepEqual(svc?.spec?.["type"], "ExternalName");
      assert.equal(svc?.spec?.["externalName"], `waker.${wakerNs}.svc.cluster.local`);
    } else {
      const spec = route.spec as {
        hostnames: string[];
        parentRefs: { name: string; namespace: string }[];
        rules: { backendRefs: { name: string; namespace: string; port: number }[] }[];
      };
      assert.deepEqual(spec.hostnames, [host("llama"), `llama-predictor-${ns}.example.com`]);
      assert.deepEqual(
        spec.parentRefs.map((p) => `${p.namespace}/${p.name}`),
        [`${KSERVE_GATEWAY.namespace}/${KSERVE_GATEWAY.name}`],
      );
      assert.deepEqual(spec.rules[0]?.backendRefs[0], {
        group: "",
        kind: "Service",
        name: "waker",
        namespace: wakerNs,
        port: 80,
        weight: 1,
      });
      const grant = await read(ref("gateway.networking.k8s.io/v1beta1", "ReferenceGrant", wakerNs, `kserve-reclaimer-wake-${ns}`));
      assert.deepEqual((grant?.spec as { from: unknown[] } | undefined)?.from, [
        { group: "gateway.networking.k8s.io", kind: "HTTPRoute", namespace: ns },
      ]);
    }
    assert.equal(await wakeRoute("manual"), undefined, "a person's stop has no wake route");

    // 2. a daemon restart after someone deleted the wake route: it is back before any wake
    await daemon.stop();
    await objects.delete(ref(route.apiVersion ?? "", route.kind ?? "", ns, "llama-wake") as never);
    if (mode === "ingress") await objects.delete(ref("v1", "Service", ns, "llama-wake") as never);
    daemon = new DaemonProcess(`wake-${mode}-2`, args);
    await daemon.ready();
    const again = await eventually("the wake route re-created", () => wakeRoute("llama"), { timeoutMs: 30_000, describe });
    if (mode === "ingress") await eventually("its ExternalName Service re-created", () => wakeService("llama"), { timeoutMs: 30_000 });
    await eventually("the daemon answers the wake API", async () => (await wake(daemon, host("nobody"), wakerToken)).status === 404, {
      timeoutMs: 30_000,
    });

    // 3. who may call: no token, the API audience, another ServiceAccount
    assert.equal((await wake(daemon, host("llama"), undefined)).status, 401);
    assert.equal(
      (await wake(daemon, host("llama"), apiAudienceToken)).status,
      401,
      "a token for the apiserver's audience is not the waker's",
    );
    const other = await wake(daemon, host("llama"), otherToken);
    assert.equal(other.status, 403);
    assert.match(String(other.body["error"]), new RegExp(`system:serviceaccount:${wakerNs}:other`));
    assert.equal((await wake(daemon, `LLAMA-${ns.toUpperCase()}.EXAMPLE.COM:443`, wakerToken)).status, 200, "Host with port and capitals");

    // 4. the wake: Starting (many calls, one start, reason Request), then Ready once KServe says so
    const first = await wake(daemon, host("llama"), wakerToken);
    assert.equal(first.status, 200);
    assert.equal(first.body["namespace"], ns);
    assert.equal(first.body["name"], "llama");
    assert.equal(first.body["timeoutSeconds"], 60);
    assert.equal(first.body["maxHeldRequests"], 5);
    assert.ok(first.body["state"] === "Starting" || first.body["state"] === "Ready", JSON.stringify(first.body));
    for (let i = 0; i < 5; i++) await wake(daemon, `llama-predictor-${ns}.example.com`, wakerToken);
    const started = await eventually(
      "llama started by the daemon with reason Request",
      async () => {
        const a = (await isvc("llama"))?.metadata.annotations ?? {};
        const rec = a[STATE] ? (JSON.parse(a[STATE]) as { action: string; reason: string }) : undefined;
        return a[STOP] === "false" && rec?.action === "start" && rec.reason === "Request" ? rec : undefined;
      },
      { timeoutMs: 30_000, describe },
    );
    assert.equal(started.reason, "Request");
    await eventually("Ready again", () => ready("llama"), { timeoutMs: 90_000, describe });
    const back = await eventually(
      "KServe's own route back",
      async () => ((await kserveRoutes("llama")).length === (mode === "ingress" ? 1 : 2) ? kserveRoutes("llama") : undefined),
      { timeoutMs: 60_000, describe },
    );
    if (mode === "gateway-api") {
      // requests go to the oldest of routes with identical matches: the wake route, until it is deleted
      for (const r of back)
        assert.ok(
          created(again) < created(r),
          `wake route (${String(again.metadata.creationTimestamp)}) older than ${r.metadata.name} (${String(r.metadata.creationTimestamp)})`,
        );
    }
    await eventually(
      "the wake route removed after Ready",
      async () => (await wakeRoute("llama")) === undefined && (mode === "gateway-api" || (await wakeService("llama")) === undefined),
      { timeoutMs: 30_000, describe },
    );
    assert.equal((await kserveRoutes("llama")).length, mode === "ingress" ? 1 : 2, "KServe's own route untouched");
    assert.equal((await wake(daemon, host("llama"), wakerToken)).body["state"], "Ready");
    const stopsAndStarts = isvcWatch.events.filter((e) => e.obj.metadata.name === "llama").map((e) => e.obj.metadata.annotations?.[STOP]);
    assert.equal(stopsAndStarts.filter((v, i) => v === "false" && stopsAndStarts[i - 1] !== "false").length, 1, "one start for six calls");
    await eventually(
      "wakes counted",
      async () => metricValue(await daemon.metrics(), "kserve_reclaimer_wakes_total", { namespace: ns }) === 1,
    );

    // 5. a person's stop: Refused with the reason, never started
    const manual = await wake(daemon, host("manual"), wakerToken);
    assert.equal(manual.status, 200);
    assert.equal(manual.body["state"], "Refused");
    assert.match(String(manual.body["message"]), /stopped by a person/);
    assert.equal((await isvc("manual"))?.metadata.annotations?.[STOP], "true");
    assert.equal(await wakeRoute("manual"), undefined);
    assert.equal(
      (await wakeService("manual"))?.spec?.["externalName"],
      "example.org",
      "a Service without the daemon's managed-by label is left alone",
    );

    // 6. no GPU for it: the start is not confirmed, and the Warning says why
    await eventually("huge stopped by the schedule", async () => (await isvc("huge"))?.metadata.annotations?.[STOP] === "true", {
      timeoutMs: 30_000,
    });
    assert.equal((await wake(daemon, host("huge"), wakerToken)).body["state"], "Starting");
    const warning = await eventually(
      "a Warning with the scheduler's message",
      async () => {
        const list = await objects.list<
          KubernetesObject & { reason: string; type: string; message: string; involvedObject: { name: string } }
        >("v1", "Event", ns);
        return list.items.find((e) => e.involvedObject.name === "huge" && e.reason === "Unschedulable");
      },
      { timeoutMs: 60_000, describe },
    );
    assert.equal(warning.type, "Warning");
    assert.match(warning.message, /Insufficient nvidia\.com\/gpu/);
  } finally {
    isvcWatch.stop();
    routeWatch.stop();
    await daemon.stop();
    await objects.delete({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } } as KubernetesObject).catch(() => undefined);
  }
}

describe("wake routes with Ingress (the runner's plane)", () => {
  test("wake route before the stop, re-created after a restart, a woken start (Request), removed after Ready; refused and forbidden calls; Unschedulable", {
    timeout: 300_000,
  }, async () => {
    await scenario("ingress", clusterFromEnv().kubeconfigPath);
  });
});

describe("wake routes with Gateway API (startCluster({ kserveIngress: 'gateway-api' }))", { timeout: 900_000 }, () => {
  let cluster: Cluster | undefined;
  const parent = mkdtempSync(join(tmpdir(), "kserve-reclaimer-wakegw-"));
  before(async () => {
    cluster = await startCluster({ kserveIngress: "gateway-api", build: false, dir: join(parent, "cluster"), log: () => {} });
  });
  after(async () => {
    await cluster?.stop();
    rmSync(parent, { recursive: true, force: true });
  });
  test("the wake HTTPRoute is older than KServe's recreated HTTPRoutes, with a ReferenceGrant; the rest as with Ingress", {
    timeout: 300_000,
  }, async () => {
    assert.ok(cluster);
    await scenario("gateway-api", cluster.kubeconfigPath);
  });
});
