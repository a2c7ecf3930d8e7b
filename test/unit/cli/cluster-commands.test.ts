// status, wake, sleep and plan --cluster without a cluster: usage errors exit 2 before anything is
// read; kubeconfig and connection problems are one line on stderr, exit 1. Which schedule governs
// a service, with ClusterServingSchedules, against a fake API server. (With a cluster:
// test/integration/cli-commands.test.ts.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../../../src/cli/main.ts";
import type { CliIO } from "../../../src/cli/io.ts";

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const io: CliIO = { out: (t) => void (out += t), err: (t) => void (err += t), now: () => Date.parse("2026-12-01T10:00:00Z") };
  const code = await main(args, io);
  return { code, out, err };
}

test("usage errors exit 2 with the reason", async () => {
  const cases: [string[], RegExp][] = [
    [["wake"], /wake takes exactly one InferenceService/],
    [["wake", "a/b/c"], /"a\/b\/c" is not <namespace>\/<name>/],
    [["wake", "ml/llama", "--for", "soon"], /--for: must be a duration/],
    [["sleep"], /sleep takes exactly one InferenceService/],
    [["sleep", "a", "b"], /sleep takes exactly one/],
    [["status", "-n", "a", "-A"], /give -n or -A, not both/],
    [["status", "ml/llama", "-A"], /-A lists every namespace/],
    [["status", "-o", "yaml"], /--output must be table or json/],
    [["status", "a", "b"], /at most one InferenceService/],
    [["status", "--prometheus-url", "localhost:9090", "ml/x"], /--prometheus-url must be an http\(s\) URL/],
    [["plan", "--cluster", "-f", "schedules"], /give -f <file\|dir> or --cluster, not both/],
    [["plan", "-n", "ml", "-f", "schedules"], /-n, -A, --kubeconfig and --context go with --cluster/],
    [["plan"], /plan needs -f <file\|dir> or --cluster/],
    [["status", "--bogus"], /unknown flag --bogus/],
  ];
  for (const [args, want] of cases) {
    const r = await cli(...args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.err}`);
    assert.match(r.err, want, args.join(" "));
    assert.equal(r.out, "");
  }
});

test("kubeconfig and connection problems: one line, exit 1", async () => {
  const dir = mkdtempSync(join(tmpdir(), "cli-kc-"));
  try {
    const kc = join(dir, "kubeconfig");
    writeFileSync(
      kc,
      [
        "apiVersion: v1",
        "kind: Config",
        "clusters:",
        "- name: c",
        '  cluster: {server: "https://127.0.0.1:59997"}',
        "users:",
        "- name: u",
        "  user: {token: abc}",
        "contexts:",
        "- name: ctx",
        "  context: {cluster: c, user: u, namespace: team}",
        "current-context: ctx",
        "",
      ].join("\n"),
    );
    const cases: [string[], RegExp][] = [
      [["status", "--kubeconfig", join(dir, "missing")], /^kserve-reclaimer status: kubeconfig file .*missing does not exist\n$/],
      [["wake", "ml/x", "--kubeconfig", kc, "--context", "other"], /^kserve-reclaimer wake: context other not found in kubeconfig\n$/],
      [
        ["sleep", "x", "--kubeconfig", kc],
        /^kserve-reclaimer sleep: cannot reach the Kubernetes API at https:\/\/127\.0\.0\.1:59997: connect ECONNREFUSED 127\.0\.0\.1:59997\n$/,
      ],
      [["plan", "--cluster", "--kubeconfig", kc], /^kserve-reclaimer plan: cannot reach the Kubernetes API/],
      [["status", "-A", "--kubeconfig", kc], /^kserve-reclaimer status: cannot reach the Kubernetes API/],
    ];
    for (const [args, want] of cases) {
      const r = await cli(...args);
      assert.equal(r.code, 1, `${args.join(" ")}: ${r.err}`);
      assert.match(r.err, want);
      assert.equal(r.err.split("\n").length, 2, "one line");
      assert.equal(r.out, "");
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("help lists the cluster commands", async () => {
  const r = await cli("help");
  for (const c of ["status", "wake", "sleep"]) assert.match(r.out, new RegExp(`^  ${c} `, "m"));
  assert.match((await cli("help", "wake")).out, /--for DURATION +how long to keep it running: .*\(default: 2h\)/);
});

const SCHEDULES = "/apis/reclaimer.dev/v1alpha1";
const UPTIME = { timeZone: "UTC", uptime: [{ days: "Mon-Fri", from: "08:00", to: "18:00" }] };

/**
 * An API server of namespace ml (labelled team=ml), its InferenceService llama, the given
 * ServingSchedules and a ClusterServingSchedule "nights" reaching team=ml; `clusterForbidden`
 * answers the cluster-wide list as it does for a namespace editor.
 */
async function withApi(
  opts: { own?: unknown[]; clusterForbidden?: boolean },
  body: (kubeconfig: string, seen: string[]) => Promise<void>,
): Promise<void> {
  const seen: string[] = [];
  const objects: Record<string, unknown> = {
    "/api/v1/namespaces/ml": { metadata: { name: "ml", labels: { team: "ml" } } },
    "/apis/serving.kserve.io/v1beta1/namespaces/ml/inferenceservices/llama": isvc(),
    "/apis/serving.kserve.io/v1beta1/namespaces/ml/inferenceservices": { items: [isvc()] },
    [`${SCHEDULES}/namespaces/ml/servingschedules`]: { items: opts.own ?? [] },
    [`${SCHEDULES}/clusterservingschedules`]: {
      items: [
        {
          metadata: { name: "nights", creationTimestamp: "2026-01-01T00:00:00Z" },
          spec: { namespaceSelector: { matchLabels: { team: "ml" } }, selector: {}, ...UPTIME },
        },
      ],
    },
  };
  const server = createServer((req, res) => {
    const path = (req.url ?? "").split("?")[0] ?? "";
    seen.push(`${req.method} ${path}`);
    const found = objects[path];
    const forbidden = opts.clusterForbidden && path === `${SCHEDULES}/clusterservingschedules`;
    const code = forbidden ? 403 : found ? 200 : 404;
    res.writeHead(code, { "content-type": "application/json" });
    res.end(
      JSON.stringify(
        code === 200
          ? found
          : {
              kind: "Status",
              status: "Failure",
              code,
              reason: forbidden ? "Forbidden" : "NotFound",
              message: forbidden
                ? 'clusterservingschedules.reclaimer.dev is forbidden: User "dev" cannot list resource'
                : `${path} not found`,
            },
      ),
    );
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const dir = mkdtempSync(join(tmpdir(), "cli-api-"));
  try {
    const kc = join(dir, "kubeconfig");
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    writeFileSync(
      kc,
      `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "${url}", insecure-skip-tls-verify: true}}]
contexts: [{name: c, context: {cluster: c, user: u, namespace: ml}}]
current-context: c
users: [{name: u, user: {token: abc}}]
`,
    );
    await body(kc, seen);
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function isvc() {
  return { metadata: { name: "llama", namespace: "ml", resourceVersion: "7", labels: { app: "llama" } }, spec: {} };
}

const ownSchedule = {
  metadata: { name: "office", namespace: "ml", creationTimestamp: "2026-06-01T00:00:00Z" },
  spec: { selector: { matchLabels: { app: "llama" } }, ...UPTIME },
};

test("a ClusterServingSchedule reaching the namespace governs its services in status, as in the daemon", async () => {
  await withApi({}, async (kc, seen) => {
    const detail = await cli("status", "ml/llama", "--kubeconfig", kc);
    assert.equal(detail.code, 0, detail.err);
    assert.match(detail.out, /^Schedule: +nights \(cluster\) \(UTC\)$/m);
    assert.equal(detail.err, "");
    assert.ok(seen.includes("GET /api/v1/namespaces/ml"), "the namespace's labels are read");
    const json = await cli("status", "ml/llama", "--kubeconfig", kc, "-o", "json");
    assert.equal((JSON.parse(json.out) as { schedule: { name: string } }).schedule.name, "nights (cluster)");
    const list = await cli("status", "--kubeconfig", kc);
    assert.equal(list.code, 0, list.err);
    assert.match(list.out, /^nights \(cluster\) \(UTC\)/m);
    assert.match(list.out, /^ {2}ml\/llama +Running/m);
    assert.doesNotMatch(list.out, /Not selected/);
    const plan = await cli("plan", "--cluster", "--kubeconfig", kc, "--days", "1", "-o", "json");
    assert.equal(plan.code, 0, plan.err);
    assert.deepEqual(
      (JSON.parse(plan.out) as { schedules: { name: string }[] }).schedules.map((p) => p.name),
      ["nights (cluster)"],
    );
  });
});

test("a ServingSchedule of the namespace that selects the service overrides the cluster one", async () => {
  await withApi({ own: [ownSchedule] }, async (kc) => {
    const detail = await cli("status", "ml/llama", "--kubeconfig", kc);
    assert.equal(detail.code, 0, detail.err);
    assert.match(detail.out, /^Schedule: +ml\/office \(UTC\)$/m);
    const list = await cli("status", "--kubeconfig", kc, "-o", "json");
    const o = JSON.parse(list.out) as { schedules: { name: string; services: { name: string }[] }[] };
    assert.deepEqual(
      o.schedules.map((s) => [s.name, s.services.map((r) => r.name)]),
      [
        ["nights (cluster)", []],
        ["ml/office", ["llama"]],
      ],
    );
  });
});

test("a 403 on the cluster-wide list: one warning, the namespaced schedules still decide", async () => {
  await withApi({ clusterForbidden: true }, async (kc, seen) => {
    const warning =
      "warning: cluster-wide schedules could not be read (listing ClusterServingSchedules forbidden): only ServingSchedules are considered\n";
    const ungoverned = await cli("status", "ml/llama", "--kubeconfig", kc);
    assert.equal(ungoverned.code, 0, ungoverned.err);
    assert.equal(ungoverned.err, warning);
    assert.match(ungoverned.out, /^Schedule: +none/m);
    assert.ok(!seen.includes("GET /api/v1/namespaces/ml"), "no namespace labels are needed without cluster schedules");
  });
  await withApi({ own: [ownSchedule], clusterForbidden: true }, async (kc) => {
    for (const args of [["status", "ml/llama"], ["status"], ["plan", "--cluster", "--days", "1"]]) {
      const r = await cli(...args, "--kubeconfig", kc);
      assert.equal(r.code, 0, `${args.join(" ")}: ${r.err}`);
      assert.equal(r.err.match(/warning: /g)?.length, 1, r.err);
      assert.match(r.out, /ml\/office/);
    }
    const slept = await cli("sleep", "ml/llama", "--kubeconfig", kc);
    // the fake server does not take patches; what matters is the one warning before the write
    assert.equal(slept.err.match(/warning: /g)?.length, 1, slept.err);
  });
});
