// The PrometheusRule's alerts, checked with Prometheus' own promtool (Debian's prometheus package,
// which the local control plane needs anyway): the rules load, each alert fires on a scripted
// failure and none fires on a healthy pair of replicas. Also: the Grafana dashboard and the alerts
// use only metric names the daemon exports.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { find, objectsOf, readText } from "./helpers.ts";

type RuleGroup = {
  name: string;
  rules: { alert: string; expr: string; for?: string; labels: Record<string, string>; annotations: Record<string, string> }[];
};
const rule = find(objectsOf("deploy/components/monitoring/prometheusrule.yaml"), "PrometheusRule") as unknown as {
  spec: { groups: RuleGroup[] };
};
const alerts = rule.spec.groups.flatMap((g) => g.rules);
const promtool = spawnSync("promtool", ["--version"]).status === 0;
const noPromtool = promtool ? false : "promtool is not installed (apt-get install -y prometheus)";

/** Metric names the daemon registers (src/report/metrics.ts), with the _bucket/_sum/_count of histograms. */
function exportedNames(): Set<string> {
  const src = readText("src/report/metrics.ts");
  const names = new Set<string>();
  for (const m of src.matchAll(/new (Counter|Gauge|Histogram)\(\{\s*name: "([a-z_]+)"/g)) {
    const [, kind, name] = m as unknown as [string, string, string];
    names.add(name);
    if (kind === "Histogram") for (const s of ["_bucket", "_sum", "_count"]) names.add(name + s);
  }
  return names;
}

function usedNames(text: string): string[] {
  return [...new Set([...text.matchAll(/\bkserve_reclaimer_[a-z_]+/g)].map((m) => m[0]))];
}

test("the required alerts exist with a severity, summary and description", () => {
  assert.deepEqual(alerts.map((a) => a.alert).sort(), [
    "KServeReclaimerDown",
    "KServeReclaimerKubernetesForbidden",
    "KServeReclaimerMetricsSourceUnavailable",
    "KServeReclaimerNoLeader",
    "KServeReclaimerScheduleInvalid",
    "KServeReclaimerTransitionNotConfirmed",
  ]);
  for (const a of alerts) {
    assert.match(a.labels.severity ?? "", /^(critical|warning)$/);
    assert.ok(a.annotations.summary && a.annotations.description, a.alert);
    assert.match(a.expr, /job="kserve-reclaimer-metrics"/, `${a.alert} selects the metrics Service's job`);
  }
});

test("the alerts and the dashboard use only metrics the daemon exports", () => {
  const exported = exportedNames();
  assert.ok(exported.size >= 13, `parsed ${exported.size} names from src/report/metrics.ts`);
  const dashboard = readText("deploy/grafana/kserve-reclaimer-dashboard.json");
  for (const name of [...usedNames(JSON.stringify(alerts)), ...usedNames(dashboard)]) assert.ok(exported.has(name), `${name} is exported`);
  const docs = readText("docs/operations.md");
  for (const name of exported)
    if (!/_(bucket|sum|count)$/.test(name)) assert.ok(docs.includes(name), `docs/operations.md documents ${name}`);
});

test("the Grafana dashboard is valid JSON with the panels of issue 5", () => {
  const d = JSON.parse(readText("deploy/grafana/kserve-reclaimer-dashboard.json")) as {
    uid: string;
    panels: { id: number; title: string; type: string; targets?: { expr: string }[] }[];
  };
  assert.equal(d.uid, "kserve-reclaimer");
  const ids = d.panels.map((p) => p.id);
  assert.equal(new Set(ids).size, ids.length, "panel ids are unique");
  const exprs = d.panels
    .flatMap((p) => p.targets ?? [])
    .map((t) => t.expr)
    .join("\n");
  for (const m of [
    "kserve_reclaimer_services",
    "kserve_reclaimer_gpus_reclaimed",
    "kserve_reclaimer_gpu_hours_reclaimed_total",
    "kserve_reclaimer_transitions_total",
    "kserve_reclaimer_decision_lag_seconds_bucket",
    "kserve_reclaimer_kubernetes_api_errors_total",
    "kserve_reclaimer_prometheus_query_errors_total",
    "kserve_reclaimer_unconfirmed_transitions_total",
    "kserve_reclaimer_leader",
  ]) {
    assert.ok(exprs.includes(m), `a panel shows ${m}`);
  }
  assert.match(exprs, /histogram_quantile\(0\.5,/);
  assert.match(exprs, /histogram_quantile\(0\.99,/);
});

test("promtool: the rules load and each alert fires on its failure, none on a healthy pair", () => {
  // Never skipped: promtool comes with Debian's prometheus package, which .ci/run installs.
  assert.ok(!noPromtool, "promtool is not installed: apt-get install prometheus");
  const dir = mkdtempSync(join(tmpdir(), "reclaimer-alerts-"));
  try {
    writeFileSync(join(dir, "rules.yaml"), stringify({ groups: rule.spec.groups }));
    execFileSync("promtool", ["check", "rules", join(dir, "rules.yaml")], { stdio: "pipe" });
    // promtool test rules compares annotations too; `check rules` above has checked their templates
    const bare = rule.spec.groups.map((g) => ({ ...g, rules: g.rules.map(({ annotations: _, ...r }) => r) }));
    writeFileSync(join(dir, "bare-rules.yaml"), stringify({ groups: bare }));
    const job = 'job="kserve-reclaimer-metrics"';
    const a = `${job}, instance="a:8080"`;
    const b = `${job}, instance="b:8080"`;
    const firing = (name: string, labels: Record<string, string>) => ({
      exp_labels: { severity: alerts.find((x) => x.alert === name)?.labels.severity, ...labels },
    });
    const healthy = [
      { series: `up{${a}}`, values: "1x20" },
      { series: `up{${b}}`, values: "1x20" },
      { series: `kserve_reclaimer_leader{${a}}`, values: "1x20" },
      { series: `kserve_reclaimer_leader{${b}}`, values: "0x20" },
      { series: `kserve_reclaimer_metrics_source_available{${a}, preset="kserve"}`, values: "1x20" },
      // a follower's stale gauge must not raise the alert
      { series: `kserve_reclaimer_metrics_source_available{${b}, preset="kserve"}`, values: "0x20" },
      { series: `kserve_reclaimer_unconfirmed_transitions_total{${a}, action="stop"}`, values: "0x20" },
      { series: `kserve_reclaimer_schedules_invalid{${a}}`, values: "0x20" },
      {
        series: `kserve_reclaimer_kubernetes_api_errors_total{${a}, verb="patch", resource="inferenceservices", code="409"}`,
        values: "0+1x20",
      },
    ];
    const names = alerts.map((x) => x.alert);
    const tests = [
      {
        interval: "1m",
        input_series: healthy,
        alert_rule_test: names.map((alertname) => ({ eval_time: "15m", alertname, exp_alerts: [] })),
      },
      {
        interval: "1m",
        input_series: [
          { series: `up{${a}}`, values: "0x10" },
          { series: `up{${b}}`, values: "0x10" },
        ],
        alert_rule_test: [
          { eval_time: "4m", alertname: "KServeReclaimerDown", exp_alerts: [] },
          { eval_time: "6m", alertname: "KServeReclaimerDown", exp_alerts: [firing("KServeReclaimerDown", {})] },
        ],
      },
      {
        interval: "1m",
        input_series: [
          { series: `kserve_reclaimer_leader{${a}}`, values: "0x10" },
          { series: `kserve_reclaimer_leader{${b}}`, values: "0x10" },
        ],
        alert_rule_test: [{ eval_time: "6m", alertname: "KServeReclaimerNoLeader", exp_alerts: [firing("KServeReclaimerNoLeader", {})] }],
      },
      {
        interval: "1m",
        input_series: [
          { series: `kserve_reclaimer_leader{${a}}`, values: "1x15" },
          { series: `kserve_reclaimer_metrics_source_available{${a}, preset="vllm"}`, values: "0x15" },
        ],
        alert_rule_test: [
          { eval_time: "9m", alertname: "KServeReclaimerMetricsSourceUnavailable", exp_alerts: [] },
          {
            eval_time: "11m",
            alertname: "KServeReclaimerMetricsSourceUnavailable",
            exp_alerts: [
              firing("KServeReclaimerMetricsSourceUnavailable", { job: "kserve-reclaimer-metrics", instance: "a:8080", preset: "vllm" }),
            ],
          },
        ],
      },
      {
        interval: "1m",
        input_series: [
          {
            series: `kserve_reclaimer_unconfirmed_transitions_total{${a}, action="stop"}`,
            values: "0 0 0 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1",
          },
        ],
        alert_rule_test: [
          { eval_time: "2m", alertname: "KServeReclaimerTransitionNotConfirmed", exp_alerts: [] },
          {
            eval_time: "5m",
            alertname: "KServeReclaimerTransitionNotConfirmed",
            exp_alerts: [firing("KServeReclaimerTransitionNotConfirmed", { action: "stop" })],
          },
          { eval_time: "24m", alertname: "KServeReclaimerTransitionNotConfirmed", exp_alerts: [] },
        ],
      },
      {
        interval: "1m",
        input_series: [{ series: `kserve_reclaimer_schedules_invalid{${a}}`, values: "0 0 2 2 2 2" }],
        alert_rule_test: [
          { eval_time: "4m", alertname: "KServeReclaimerScheduleInvalid", exp_alerts: [firing("KServeReclaimerScheduleInvalid", {})] },
        ],
      },
      {
        interval: "1m",
        input_series: [
          {
            series: `kserve_reclaimer_kubernetes_api_errors_total{${a}, verb="list", resource="inferenceservices", code="403"}`,
            values: "0+1x10",
          },
        ],
        alert_rule_test: [
          {
            eval_time: "5m",
            alertname: "KServeReclaimerKubernetesForbidden",
            exp_alerts: [firing("KServeReclaimerKubernetesForbidden", { verb: "list", resource: "inferenceservices" })],
          },
        ],
      },
    ];
    writeFileSync(join(dir, "tests.yaml"), stringify({ rule_files: ["bare-rules.yaml"], evaluation_interval: "1m", tests }));
    const run = spawnSync("promtool", ["test", "rules", join(dir, "tests.yaml")], { encoding: "utf8" });
    assert.equal(run.status, 0, `promtool test rules:\n${run.stdout}\n${run.stderr}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
