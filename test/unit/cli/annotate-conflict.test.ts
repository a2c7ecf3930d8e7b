// wake and sleep patch with the resourceVersion they decided on: a change made between their read
// and their write is never overwritten; they read and decide again, a bounded number of times.
import { test } from "node:test";
import assert from "node:assert/strict";
import { annotateService } from "../../../src/cli/annotate.ts";
import { CommandError, ConflictError, type ClusterClient } from "../../../src/cli/cluster.ts";
import { sleepPatch } from "../../../src/cli/sleep.ts";
import { wakePatch } from "../../../src/cli/wake.ts";
import { STOP, KEEP_RUNNING_UNTIL } from "../../../src/api/annotations.ts";
import { parseInferenceService, type InferenceService } from "../../../src/sources/kube/inferenceService.ts";

const NOW = Date.parse("2026-12-01T10:00:00Z");

/** An apiserver of one InferenceService: merge patches, with the resourceVersion precondition the real one applies. */
function fakeCluster(opts: { meddle?: (attempt: number, isvc: { annotations: Record<string, string> }) => boolean } = {}) {
  let rv = 1;
  const annotations: Record<string, string> = {};
  let reads = 0;
  const patches: { rv: string | undefined; annotations: Record<string, string | null> }[] = [];
  const object = (): InferenceService =>
    parseInferenceService({
      metadata: { name: "llama", namespace: "ml", resourceVersion: String(rv), annotations: { ...annotations } },
      spec: {},
    });
  const client: ClusterClient = {
    defaultNamespace: "default",
    server: "https://fake",
    async getInferenceService() {
      reads++;
      const o = object();
      // someone else writes right after we read
      if (opts.meddle?.(reads, { annotations })) rv++;
      return o;
    },
    listInferenceServices: async () => [object()],
    listSchedules: async () => [],
    listClusterSchedules: async () => [],
    namespaceLabels: async () => new Map(),
    async patchAnnotations(_ns, _name, patch, resourceVersion) {
      patches.push({ rv: resourceVersion, annotations: patch });
      if (resourceVersion !== undefined && resourceVersion !== String(rv)) throw new ConflictError("the object has been modified");
      for (const [k, v] of Object.entries(patch)) {
        if (v === null) delete annotations[k];
        else annotations[k] = v;
      }
      rv++;
      return { ...annotations };
    },
  };
  return { client, patches, annotations, reads: () => reads };
}

test("wake: a stop a person sets between read and write makes wake read and decide again, never overwrite blind", async () => {
  const c = fakeCluster({ meddle: (attempt, o) => (attempt === 1 ? ((o.annotations[STOP] = "true"), true) : false) });
  const e = await annotateService(c.client, { namespace: "ml", name: "llama" }, NOW, (ev) => wakePatch(ev, NOW, 3_600_000));
  assert.equal(c.reads(), 2);
  assert.deepEqual(
    c.patches.map((p) => p.rv),
    ["1", "2"],
    "every patch carries the version it was decided on",
  );
  // decided again on the fresh object: it is stopped now and no schedule governs, so wake starts it
  assert.equal(c.patches[1]?.annotations[STOP], "false");
  assert.equal(c.annotations[STOP], "false");
  assert.ok(c.annotations[KEEP_RUNNING_UNTIL]);
  assert.equal(e.facts.annotations[STOP], "true");
});

test("sleep: a service changed on every attempt fails with a clear message after bounded retries, writing nothing", async () => {
  const c = fakeCluster({ meddle: () => true });
  await assert.rejects(
    annotateService(c.client, { namespace: "ml", name: "llama" }, NOW, (ev) => sleepPatch(ev, NOW)),
    (err: unknown) =>
      err instanceof CommandError && /ml\/llama: not changed: it was modified by someone else 4 times while deciding/.test(err.message),
  );
  assert.equal(c.patches.length, 4);
  assert.deepEqual(c.annotations, {});
});
