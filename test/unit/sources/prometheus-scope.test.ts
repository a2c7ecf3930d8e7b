// Confining a tenant's PromQL to its namespace: hostile queries are either rewritten so every
// selector reads only namespace "a", or refused. Never thrown, never sent half-scoped.
import { test } from "node:test";
import assert from "node:assert/strict";
import { checkScoped, scopeToNamespace } from "../../../src/sources/prometheus/scope.ts";

function scoped(query: string, namespace = "a", label = "namespace"): string {
  const r = scopeToNamespace(query, label, namespace);
  assert.equal(r.kind, "ok", `${query}: ${r.kind === "error" ? r.error : ""}`);
  if (r.kind !== "ok") throw new Error("unreachable");
  assert.equal(checkScoped(r.promql, label, namespace), undefined, r.promql);
  return r.promql;
}

function refused(query: string, why: RegExp, namespace = "a"): void {
  const r = scopeToNamespace(query, "namespace", namespace);
  assert.equal(r.kind, "error", `${JSON.stringify(query)} was accepted as ${r.kind === "ok" ? r.promql : ""}`);
  if (r.kind === "error") assert.match(r.error, why);
}

test("every vector selector is pinned to the namespace, other matchers kept as written", () => {
  const table: [string, string][] = [
    ["x", 'x{namespace="a"}'],
    ['sum(rate(x{namespace="b"}[5m]))', 'sum(rate(x{namespace="a"}[5m]))'],
    ['x{namespace=~".+"}', 'x{namespace="a"}'],
    ['x{namespace!="a"}', 'x{namespace="a"}'],
    ['x{namespace!~"a"}', 'x{namespace="a"}'],
    ['x{namespace!="", namespace=~"b|c", job="j",}', 'x{job="j", namespace="a"}'],
    ['{__name__="x"}', '{__name__="x", namespace="a"}'],
    ['{__name__=~".+"}', '{__name__=~".+", namespace="a"}'],
    ['{namespace="b"}', '{namespace="a"}'],
    // x has a selector; vector(1) reads no series at all.
    ["x or on() vector(1)", 'x{namespace="a"} or on() vector(1)'],
    ['label_replace(x, "namespace", "b", "", "")', 'label_replace(x{namespace="a"}, "namespace", "b", "", "")'],
    ["max_over_time(x[5m:1m])", 'max_over_time(x{namespace="a"}[5m:1m])'],
    ["max_over_time(rate(x[1m])[5m:1m] offset 1h)", 'max_over_time(rate(x{namespace="a"}[1m])[5m:1m] offset 1h)'],
    ["x offset 5m", 'x{namespace="a"} offset 5m'],
    ["x @ 1700000000 offset -5m", 'x{namespace="a"} @ 1700000000 offset -5m'],
    ["rate(x[5m] @ start())", 'rate(x{namespace="a"}[5m] @ start())'],
    ['x / on(namespace) group_left y{namespace="b"}', 'x{namespace="a"} / on(namespace) group_left y{namespace="a"}'],
    [
      'x unless ignoring(namespace) {__name__="y", namespace="b"}',
      'x{namespace="a"} unless ignoring(namespace) {__name__="y", namespace="a"}',
    ],
    ["-x", '-x{namespace="a"}'],
    ["(x)", '(x{namespace="a"})'],
    ["absent(x)", 'absent(x{namespace="a"})'],
    ['count_values("namespace", x)', 'count_values("namespace", x{namespace="a"})'],
    ['sum by (namespace) (x{namespace="kube-system"}) > bool 0', 'sum by (namespace) (x{namespace="a"}) > bool 0'],
    ["vllm:request_success_total", 'vllm:request_success_total{namespace="a"}'],
    ["1 + 2", "1 + 2"],
    // A string that merely mentions the label is a string, not a matcher.
    ['x{path="namespace=\\"b\\""}', 'x{path="namespace=\\"b\\"", namespace="a"}'],
    // Comments survive outside selectors and are dropped inside them.
    ['x # namespace="b"', 'x{namespace="a"} # namespace="b"'],
    ['x{ # namespace="b"\n job="j"}', 'x{job="j", namespace="a"}'],
    ['x{namespace="b" # the other tenant\n}', 'x{namespace="a"}'],
    // Prometheus 3's quoted (UTF-8) names: a quoted matcher on the label is still the label.
    ['{"namespace"="b", "my.metric"}', '{"my.metric", namespace="a"}'],
    ["{'namespace'=`b`}", '{namespace="a"}'],
    ['{"my.metric", "namespace"=~".*"}', '{"my.metric", namespace="a"}'],
    // A metric literally named "namespace" is a metric name, not a matcher.
    ['{"namespace"}', '{"namespace", namespace="a"}'],
    ['x{team="ü😀", namespace="b"}', 'x{team="ü😀", namespace="a"}'],
    ['x{a="\\u00e9\\\\"}', 'x{a="\\u00e9\\\\", namespace="a"}'],
  ];
  for (const [query, expected] of table) assert.equal(scoped(query), expected, query);
});

test("another tenant label can be the one enforced (an admin's choice)", () => {
  assert.equal(scoped('x{k8s_namespace_name="b", namespace="b"}', "a", "k8s_namespace_name"), 'x{namespace="b", k8s_namespace_name="a"}');
});

test("queries that cannot be confined are refused with the reason, never rewritten halfway", () => {
  refused("", /does not parse/);
  refused("x{", /does not parse as PromQL at line 1, column 3/);
  refused('x{namespace="b"} {a="c"}', /does not parse/);
  refused("sum(x", /does not parse/);
  refused("x)", /does not parse/);
  refused(") or (y", /does not parse/);
  refused("x\n) or vector(1) # ", /does not parse as PromQL at line 2/);
  // Escapes in a quoted label name could decode to the label itself ("name\x73pace").
  refused('{"name\\x73pace"="b"}', /escape sequence/);
  refused('{"namespace\\u0000"="b"}', /escape sequence/);
  refused("info(rate(x[5m]))", /info\(\)/);
  refused('info(x, {k8s_cluster_name=~".+"})', /info\(\)/);
});

test("a namespace that is not a Kubernetes name is refused, so it can never break out of its quotes", () => {
  for (const ns of ['b"} or x{namespace="c', "b\\", "B", "", "a b", "ä", "-a", "a".repeat(64), 'a"']) {
    const r = scopeToNamespace("x", "namespace", ns);
    assert.equal(r.kind, "error", ns);
    if (r.kind === "error") assert.match(r.error, /not a Kubernetes namespace name/);
  }
  assert.equal(scoped("x", "a-1"), 'x{namespace="a-1"}');
  assert.equal(scopeToNamespace("x", "name space", "a").kind, "error");
});

test("checkScoped finds every selector that is not pinned exactly once", () => {
  assert.equal(checkScoped('x{namespace="a"} + y{namespace="a"}', "namespace", "a"), undefined);
  assert.match(checkScoped('x{namespace="a"} + y', "namespace", "a") ?? "", /selector y is not limited/);
  assert.match(checkScoped('x{namespace="a", namespace="b"}', "namespace", "a") ?? "", /not limited/);
  assert.match(checkScoped('x{namespace=~"a"}', "namespace", "a") ?? "", /not limited/);
  assert.match(checkScoped('x{namespace="b"}', "namespace", "a") ?? "", /not limited/);
  assert.match(checkScoped('x{namespace="a", namespace="a"}', "namespace", "a") ?? "", /not limited/);
  assert.match(checkScoped("x{", "namespace", "a") ?? "", /does not parse/);
});

test("fuzz: any mix of PromQL fragments is confined or refused, never thrown or left unscoped", () => {
  const parts = [
    "x",
    "{",
    "}",
    "namespace",
    "=",
    "!=",
    "=~",
    '"b"',
    "'b'",
    "`b`",
    '"namespace"',
    ",",
    "(",
    ")",
    "[5m]",
    "[5m:1m]",
    " offset 5m",
    " @ 100",
    " or ",
    " on(namespace) ",
    " + ",
    "sum",
    "rate",
    "label_replace",
    "# c\n",
    "\n",
    "__name__",
    '"x.y"',
    "by (namespace)",
    "\\",
    "vector(1)",
  ];
  let seed = 42;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
  let accepted = 0;
  for (let i = 0; i < 3000; i++) {
    let query = "";
    const n = 1 + (next() % 12);
    for (let j = 0; j < n; j++) query += parts[next() % parts.length];
    const r = scopeToNamespace(query, "namespace", "a");
    if (r.kind === "ok") {
      accepted++;
      assert.equal(checkScoped(r.promql, "namespace", "a"), undefined, `${JSON.stringify(query)} -> ${r.promql}`);
      assert.doesNotMatch(r.promql.replace(/#[^\n]*/g, ""), /namespace\s*(=~|!=|!~|=\s*["'`][^a])/, r.promql);
    }
  }
  assert.ok(accepted > 100, `${accepted} accepted`);
});
