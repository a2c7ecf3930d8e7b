// The predictor pod source: what is kept of a pod (and what is refused), the count per service,
// and the watch it asks for (label selector, namespaces) through a scripted transport.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { InformerTransport, ListPage } from "../../../src/sources/kube/informer.ts";
import { PodsByService, predictorPodInformer, SERVICE_LABEL, toPredictorPod } from "../../../src/sources/kube/pods.ts";
import { noopLogger } from "../../../src/sources/kube/runtime.ts";

function rawPod(name: string, extra: { phase?: string; deleting?: boolean; service?: string; containers?: unknown[] } = {}) {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name,
      namespace: "ml",
      resourceVersion: "7",
      labels: { [SERVICE_LABEL]: extra.service ?? "llama", app: "x" },
      annotations: { "kubectl.kubernetes.io/last-applied-configuration": "x".repeat(10_000) },
      ...(extra.deleting ? { deletionTimestamp: "2026-12-01T10:00:00Z" } : {}),
      managedFields: [{ manager: "kubelet" }],
    },
    spec: { containers: [{ name: "kserve-container", image: "model", env: [{ name: "A", value: "b" }] }] },
    status: {
      phase: extra.phase ?? "Running",
      containerStatuses: extra.containers ?? [{ name: "kserve-container", state: { running: {} } }],
    },
  };
}

test("a pod is kept as its name, namespace, service, its GPUs, phase and two flags, nothing else", () => {
  const pod = toPredictorPod(rawPod("llama-predictor-1", { deleting: true }));
  assert.deepEqual(pod, {
    metadata: { name: "llama-predictor-1", namespace: "ml", resourceVersion: "7" },
    service: "llama",
    key: "ml/llama",
    gpus: 0,
    phase: "Running",
    deleting: true,
    terminated: false,
  });
});

test("terminated: Succeeded, Failed, or every container terminated; deleting alone still holds the GPUs", () => {
  assert.equal(toPredictorPod(rawPod("a", { phase: "Succeeded" })).terminated, true);
  assert.equal(toPredictorPod(rawPod("a", { phase: "Failed" })).terminated, true);
  const exited = [{ state: { terminated: { exitCode: 0 } } }, { state: { terminated: { exitCode: 137 } } }];
  assert.equal(toPredictorPod(rawPod("a", { containers: exited })).terminated, true);
  assert.equal(toPredictorPod(rawPod("a", { containers: [...exited, { state: { running: {} } }] })).terminated, false);
  assert.equal(toPredictorPod(rawPod("a", { containers: [] })).terminated, false, "no status yet: pending, may hold a GPU");
  assert.equal(toPredictorPod(rawPod("a", { deleting: true })).terminated, false);
});

test("hostile pods: not objects, missing names, no label, wrong types are refused or read safely, never crash", () => {
  for (const raw of [
    null,
    undefined,
    42,
    "pod",
    [],
    {},
    { metadata: null },
    { metadata: { name: "a" } },
    { metadata: { namespace: "ml" } },
  ])
    assert.throws(() => toPredictorPod(raw), Error, JSON.stringify(raw));
  assert.throws(() => toPredictorPod({ metadata: { name: "a", namespace: "ml", labels: { [SERVICE_LABEL]: "" } } }), /label/);
  assert.throws(() => toPredictorPod({ metadata: { name: "a", namespace: "ml", labels: { [SERVICE_LABEL]: 7 } } }), /label/);
  assert.throws(() => toPredictorPod({ metadata: { name: 5, namespace: "ml", labels: { [SERVICE_LABEL]: "x" } } }), /metadata\.name/);
  const odd = toPredictorPod({
    metadata: { name: "a", namespace: "ml", labels: { [SERVICE_LABEL]: "x" }, deletionTimestamp: 12 },
    status: { phase: ["Running"], containerStatuses: "all of them" },
  });
  assert.deepEqual(odd, {
    metadata: { name: "a", namespace: "ml", resourceVersion: undefined },
    service: "x",
    key: "ml/x",
    gpus: 0,
    phase: "Pending",
    deleting: false,
    terminated: false,
  });
  const escapes = toPredictorPod(rawPod("a", { service: "\u001b[31mred\u001b[0m" }));
  assert.equal(escapes.service, "\u001b[31mred\u001b[0m", "kept as data; log lines are JSON-escaped by the logger");
});

test("pods by service: counts pods not yet terminated; deletes, relabels and a reset from a full list keep it right", () => {
  const book = new PodsByService();
  const a = toPredictorPod(rawPod("a"));
  const b = toPredictorPod(rawPod("b"));
  assert.equal(book.put(a), "ml/llama");
  book.put(b);
  book.put(b);
  assert.equal(book.holding("ml/llama"), 2, "a repeated update is one pod");
  book.put(toPredictorPod(rawPod("b", { phase: "Succeeded" })));
  assert.equal(book.holding("ml/llama"), 1);
  const moved = toPredictorPod(rawPod("a", { service: "mistral" }));
  assert.deepEqual(book.move(moved, a), ["ml/llama", "ml/mistral"]);
  assert.equal(book.holding("ml/llama"), 0);
  assert.equal(book.holding("ml/mistral"), 1);
  assert.deepEqual(book.keys(), ["ml/mistral"], "a service with no pod left costs no memory");
  assert.equal(book.remove(moved), "ml/mistral");
  assert.equal(book.remove(moved), "ml/mistral", "a second delete is harmless");
  assert.deepEqual(book.keys(), []);
  book.put(a);
  assert.deepEqual([...book.reset([b, toPredictorPod(rawPod("c", { service: "mistral" }))])].sort(), ["ml/llama", "ml/mistral"]);
  assert.equal(book.holding("ml/llama"), 1);
  assert.equal(book.holding("other/llama"), 0, "namespaces are apart");
});

class Scripted implements InformerTransport {
  lists: Array<{ namespace: string | undefined; labelSelector: string | undefined }> = [];
  watches: Array<{ namespace: string | undefined; params: Record<string, unknown>; emit: (type: string, o: unknown) => void }> = [];
  pages: Record<string, unknown[]> = {};
  async list(namespace: string | undefined, opts: { labelSelector?: string | undefined }): Promise<ListPage> {
    this.lists.push({ namespace, labelSelector: opts.labelSelector });
    return { items: this.pages[namespace ?? ""] ?? [], metadata: { resourceVersion: "10" } };
  }
  async watch(
    namespace: string | undefined,
    params: Record<string, string | number | boolean | undefined>,
    onEvent: (t: string, o: unknown) => void,
    onDone: (err: unknown) => void,
  ) {
    this.watches.push({ namespace, params, emit: onEvent });
    // as the real watch does: an abort ends it
    return { abort: () => onDone(undefined) };
  }
}

test("the watch: pods labelled serving.kserve.io/inferenceservice only, one per namespace served; a pod that does not parse is dropped", async () => {
  const transport = new Scripted();
  transport.pages = { a: [rawPod("p1"), { metadata: { name: "broken", namespace: "a" } }], b: [] };
  const warnings: string[] = [];
  const logger = { ...noopLogger, warn: (msg: string) => warnings.push(msg) };
  const informer = predictorPodInformer({ transport, namespaces: ["a", "b"], logger });
  informer.start();
  await informer.waitForSync();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(
    transport.lists.map((l) => [l.namespace, l.labelSelector]),
    [
      ["a", SERVICE_LABEL],
      ["b", SERVICE_LABEL],
    ],
  );
  assert.deepEqual(
    transport.watches.map((w) => [w.namespace, w.params.labelSelector]),
    [
      ["a", SERVICE_LABEL],
      ["b", SERVICE_LABEL],
    ],
  );
  assert.equal(informer.size, 1);
  assert.equal(warnings.length, 1);
  await informer.stop();
  const cluster = new Scripted();
  const everywhere = predictorPodInformer({ transport: cluster, namespaces: undefined, logger: noopLogger });
  everywhere.start();
  await everywhere.waitForSync();
  await everywhere.stop();
  assert.deepEqual(
    cluster.lists.map((l) => l.namespace),
    [undefined],
    "no --namespaces: one cluster-wide watch",
  );
});

test("an LLMInferenceService's pods: named by app.kubernetes.io/name, keyed apart from an InferenceService of that name, GPUs summed per service", () => {
  const llmPod = (name: string, gpus: unknown, extra: Record<string, unknown> = {}) => ({
    metadata: {
      name,
      namespace: "ml",
      labels: { "app.kubernetes.io/part-of": "llminferenceservice", "app.kubernetes.io/name": "llama", ...extra },
    },
    spec: { containers: [{ name: "main", resources: { limits: { "nvidia.com/gpu": gpus } } }, { name: "sidecar" }] },
    status: { phase: "Running" },
  });
  const leader = toPredictorPod(llmPod("llama-kserve-mn-0", "8"), "LLMInferenceService");
  assert.equal(leader.service, "llama");
  assert.equal(leader.key, "ml/llmisvc/llama");
  assert.equal(leader.gpus, 8);
  const book = new PodsByService();
  book.put(leader);
  book.put(toPredictorPod(llmPod("llama-kserve-mn-0-1", 8), "LLMInferenceService"));
  // a quantity that is not a whole GPU count holds none as far as accounting goes (the spec count reports it)
  book.put(toPredictorPod(llmPod("llama-kserve-odd", "1.5"), "LLMInferenceService"));
  book.put(toPredictorPod(rawPod("llama-predictor-1"), "InferenceService"));
  assert.equal(book.holding("ml/llmisvc/llama"), 3);
  assert.equal(book.gpus("ml/llmisvc/llama"), 16);
  assert.equal(book.holding("ml/llama"), 1, "the InferenceService named llama is another service");
  assert.throws(() => toPredictorPod(rawPod("x"), "LLMInferenceService"), /app\.kubernetes\.io\/name/);
  const hostile = toPredictorPod(
    { ...llmPod("h", "1"), spec: { containers: [{ resources: { limits: { "nvidia.com/gpu": "9".repeat(400) } } }, 7, null, "x"] } },
    "LLMInferenceService",
  );
  assert.equal(hostile.gpus, 0);
  assert.equal(toPredictorPod({ ...llmPod("s", 1), spec: "containers" }, "LLMInferenceService").gpus, 0);
});
