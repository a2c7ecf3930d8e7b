import { test } from "node:test";
import assert from "node:assert/strict";
import { register as globalRegistry } from "prom-client";
import { ReclaimerMetrics } from "../../../src/report/metrics.ts";
import { startReportServer, type CheckResult } from "../../../src/report/http.ts";

test("metrics live in their own registry and render with typed labels", async () => {
  const m = new ReclaimerMetrics({ defaultMetrics: false });
  m.transition("stop", "Schedule");
  m.transition("stop", "Schedule");
  m.transition("start", "Warmup");
  m.observeDecisionLag(0.2);
  m.prometheusQuery("kserve", 0.03, true);
  m.prometheusQuery("istio", 10, false);
  m.kubernetesApiError("patch", "inferenceservices", 409);
  m.setServices({ Running: 3, Stopped: 2 });
  m.setServices({ Running: 5 });
  m.addGpuHoursReclaimed(1.5);
  m.addGpuHoursReclaimed(-1);
  m.unconfirmed("stop");
  m.setSchedulesInvalid(1);
  m.setLeader(true);
  m.setMetricsSourceAvailable("vllm", false);
  const text = await m.render();
  const has = (line: string) => assert.ok(text.split("\n").includes(line), `missing ${line}\n${text}`);
  has('kserve_reclaimer_transitions_total{action="stop",reason="Schedule"} 2');
  has('kserve_reclaimer_transitions_total{action="start",reason="Warmup"} 1');
  has('kserve_reclaimer_decision_lag_seconds_bucket{le="0.25"} 1');
  has('kserve_reclaimer_decision_lag_seconds_bucket{le="0.1"} 0');
  has('kserve_reclaimer_decision_lag_seconds_bucket{le="30"} 1');
  has('kserve_reclaimer_prometheus_query_duration_seconds_count{preset="kserve"} 1');
  has('kserve_reclaimer_prometheus_query_errors_total{preset="istio"} 1');
  has('kserve_reclaimer_metrics_source_available{preset="kserve"} 1');
  has('kserve_reclaimer_metrics_source_available{preset="istio"} 0');
  has('kserve_reclaimer_metrics_source_available{preset="vllm"} 0');
  has('kserve_reclaimer_kubernetes_api_errors_total{verb="patch",resource="inferenceservices",code="409"} 1');
  has('kserve_reclaimer_services{state="Running"} 5');
  has('kserve_reclaimer_services{state="Stopped"} 0');
  has("kserve_reclaimer_gpu_hours_reclaimed_total 1.5");
  has('kserve_reclaimer_unconfirmed_transitions_total{action="stop"} 1');
  has("kserve_reclaimer_schedules_invalid 1");
  has("kserve_reclaimer_leader 1");
  assert.equal(await globalRegistry.getSingleMetricAsString("kserve_reclaimer_leader").catch(() => "absent"), "absent");
  assert.doesNotMatch(text, /process_cpu/);
});

test("GPUs reclaimed: per-schedule series and their total; a deleted schedule's series disappear", async () => {
  const m = new ReclaimerMetrics({ defaultMetrics: false });
  m.setScheduleGpusReclaimed("ml", "office-hours", 8);
  m.setScheduleGpusReclaimed("nlp", "nights", 4);
  m.setScheduleGpusReclaimed("ml", "office-hours", 6);
  let text = await m.render();
  assert.match(text, /^kserve_reclaimer_gpus_reclaimed 10$/m);
  assert.match(text, /^kserve_reclaimer_schedule_gpus_reclaimed\{namespace="ml",schedule="office-hours"\} 6$/m);
  m.deleteSchedule("ml", "office-hours");
  m.deleteSchedule("ml", "never-existed");
  text = await m.render();
  assert.match(text, /^kserve_reclaimer_gpus_reclaimed 4$/m);
  assert.doesNotMatch(text, /office-hours/);
});

test("two instances do not collide, and default metrics are on by default", async () => {
  const a = new ReclaimerMetrics();
  const b = new ReclaimerMetrics();
  a.setLeader(true);
  assert.match(await a.render(), /^kserve_reclaimer_leader 1$/m);
  const text = await b.render();
  assert.match(text, /^kserve_reclaimer_leader 0$/m);
  assert.match(text, /^process_cpu_user_seconds_total /m);
  assert.match(text, /^nodejs_eventloop_lag_seconds /m);
});

test("report server: /metrics, /healthz and /readyz from callbacks, 404/405 otherwise", async (t) => {
  const metrics = new ReclaimerMetrics({ defaultMetrics: false });
  metrics.transition("stop", "Idle");
  let health: CheckResult = { ok: true, problems: [] };
  let ready: () => Promise<CheckResult> = async () => ({ ok: false, problems: ["caches not synced", "timers not armed"] });
  const server = await startReportServer({ metrics, health: () => health, ready: () => ready(), port: 0, host: "127.0.0.1" });
  t.after(() => server.close());
  const base = `http://127.0.0.1:${server.port}`;
  const get = async (path: string, init?: RequestInit) => {
    const res = await fetch(`${base}${path}`, init);
    return { status: res.status, type: res.headers.get("content-type"), body: await res.text() };
  };

  const m = await get("/metrics");
  assert.equal(m.status, 200);
  assert.match(m.type ?? "", /^text\/plain; version=0.0.4/);
  assert.match(m.body, /kserve_reclaimer_transitions_total\{action="stop",reason="Idle"\} 1/);

  assert.deepEqual(await get("/healthz"), { status: 200, type: "text/plain; charset=utf-8", body: "ok\n" });
  health = { ok: false, problems: ["informer inferenceservices: no event for 600s"] };
  const unhealthy = await get("/healthz");
  assert.equal(unhealthy.status, 503);
  assert.match(unhealthy.body, /informer inferenceservices: no event for 600s/);

  const notReady = await get("/readyz");
  assert.equal(notReady.status, 503);
  assert.equal(notReady.body, "not ready:\n- caches not synced\n- timers not armed\n");
  ready = async () => ({ ok: true, problems: [] });
  assert.equal((await get("/readyz?verbose")).status, 200);
  ready = async () => {
    throw new Error("boom");
  };
  const thrown = await get("/readyz");
  assert.equal(thrown.status, 503);
  assert.match(thrown.body, /check failed: boom/);

  assert.equal((await get("/nope")).status, 404);
  assert.equal((await get("/metrics", { method: "POST" })).status, 405);
  const head = await fetch(`${base}/healthz`, { method: "HEAD" });
  assert.equal(head.status, 503);
});

test("report server: close() releases the port even with a keep-alive connection open", async () => {
  const server = await startReportServer({
    metrics: new ReclaimerMetrics({ defaultMetrics: false }),
    health: () => ({ ok: true, problems: [] }),
    ready: () => ({ ok: true, problems: [] }),
    port: 0,
    host: "127.0.0.1",
  });
  const res = await fetch(`http://127.0.0.1:${server.port}/healthz`);
  await res.text();
  await server.close();
  await assert.rejects(fetch(`http://127.0.0.1:${server.port}/healthz`));
  await assert.rejects(
    startReportServer({
      metrics: new ReclaimerMetrics({ defaultMetrics: false }),
      health: () => ({ ok: true, problems: [] }),
      ready: () => ({ ok: true, problems: [] }),
      port: 1,
      host: "256.0.0.1",
    }),
  );
});
