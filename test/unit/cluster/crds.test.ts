// The control plane of the tests and of test/cluster/up installs every CRD this repository ships,
// read from the generated deploy/crds/ the deployment uses: a kind added to the generator reaches
// the plane without another list to keep.
import { test } from "node:test";
import assert from "node:assert/strict";
import { buildCrd } from "../../../src/api/crd.ts";
import { reclaimerCrds } from "../../support/cluster.ts";

test("the plane's CRDs are the generated ServingSchedule and ClusterServingSchedule CRDs, as committed", () => {
  const crds = reclaimerCrds();
  assert.deepEqual(
    crds.map((c) => c.metadata?.name),
    ["servingschedules.reclaimer.dev", "clusterservingschedules.reclaimer.dev"],
  );
  for (const [i, variant] of (["namespaced", "cluster"] as const).entries())
    assert.deepEqual(crds[i], JSON.parse(JSON.stringify(buildCrd(variant))), variant);
});
