import { test } from "node:test";
import assert from "node:assert/strict";
import { selectorMatches, chooseGoverning } from "../../../src/decide/selector.ts";

test("label selectors follow Kubernetes semantics", () => {
  const labels = { team: "nlp", tier: "gpu" };
  assert.equal(selectorMatches({}, labels), true, "{} selects all");
  assert.equal(selectorMatches({}, undefined), true);
  assert.equal(selectorMatches({ matchLabels: { team: "nlp" } }, labels), true);
  assert.equal(selectorMatches({ matchLabels: { team: "cv" } }, labels), false);
  assert.equal(selectorMatches({ matchExpressions: [{ key: "tier", operator: "In", values: ["gpu", "cpu"] }] }, labels), true);
  assert.equal(selectorMatches({ matchExpressions: [{ key: "tier", operator: "NotIn", values: ["gpu"] }] }, labels), false);
  assert.equal(selectorMatches({ matchExpressions: [{ key: "absent", operator: "NotIn", values: ["x"] }] }, labels), true);
  assert.equal(selectorMatches({ matchExpressions: [{ key: "team", operator: "Exists" }] }, labels), true);
  assert.equal(selectorMatches({ matchExpressions: [{ key: "team", operator: "DoesNotExist" }] }, labels), false);
  assert.equal(selectorMatches({ matchLabels: { team: "nlp" }, matchExpressions: [{ key: "x", operator: "Exists" }] }, labels), false);
});

test("the oldest matching schedule governs, ties by name; the others are reported", () => {
  const a = { namespace: "ml", name: "b-late", createdAt: 2, selector: {} };
  const b = { namespace: "ml", name: "a-early", createdAt: 1, selector: { matchLabels: { team: "nlp" } } };
  const c = { namespace: "ml", name: "a-late", createdAt: 2, selector: {} };
  const d = { namespace: "ml", name: "other", createdAt: 0, selector: { matchLabels: { team: "cv" } } };
  const r = chooseGoverning([a, b, c, d], { team: "nlp" });
  assert.equal(r.governing?.name, "a-early");
  assert.deepEqual(
    r.overruled.map((x) => x.name),
    ["a-late", "b-late"],
  );
  assert.equal(chooseGoverning([d], { team: "nlp" }).governing, undefined);
});
