// status, wake, sleep and plan --cluster against the real control plane: the CLI runs as a child
// process (`node src/cli/main.ts ...`) with the cluster's kubeconfig, and the test checks the
// annotations on the real InferenceService, what KServe does with them, and the one-line errors.
//   node test/integration/run.ts test/integration/cli-commands.test.ts
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubernetesObject } from "@kubernetes/client-node";
import { clusterFromEnv } from "../support/cluster.ts";
import { installCrd as installCrdFromDeploy } from "../support/daemon.ts";
import { condition, eventually, gpuInferenceService, kubeClient, readOrUndefined, type InferenceService } from "../support/kube.ts";
import { kubeconfigForServiceAccount } from "../support/serviceAccount.ts";
import { compileSchedule } from "../../src/schedule/index.ts";
import { nextRunning } from "../../src/cli/decision.ts";
import { rfc3339 } from "../../src/cli/times.ts";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const env = clusterFromEnv();
const { kc, objects } = kubeClient(env.kubeconfigPath);
const ns = `cli-${randomBytes(3).toString("hex")}`;
const STOP = "serving.kserve.io/stop";
const STATE = "reclaimer.dev/state";
const KEEP = "reclaimer.dev/keep-running-until";
const EXCLUDE = "reclaimer.dev/exclude";
const tmp = mkdtempSync(join(tmpdir(), "cli-test-"));

const SPEC = {
  timeZone: "UTC",
  selector: { matchLabels: { team: "ml" } },
  uptime: [{ days: "Mon-Fri", from: "08:00", to: "20:00" }],
};

type Run = { code: number; stdout: string; stderr: string; ms: number };

function cli(args: string[], kubeconfig = env.kubeconfigPath): Promise<Run> {
  const begin = Date.now();
  return new Promise((resolveRun) => {
    execFile(
      process.execPath,
      [join(repoRoot, "src", "cli", "main.ts"), ...args, "--kubeconfig", kubeconfig],
      { cwd: repoRoot, timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : 1) : 0;
        resolveRun({ code, stdout, stderr, ms: Date.now() - begin });
      },
    );
  });
}

/** Exit 1, exactly one line on stderr, no stack trace. */
function assertOneLineError(r: Run, pattern: RegExp): void {
  assert.equal(r.code, 1, `exit 1: ${JSON.stringify(r)}`);
  assert.equal(r.stdout, "");
  assert.equal(r.stderr.trimEnd().split("\n").length, 1, `one line: ${r.stderr}`);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
  assert.match(r.stderr, pattern);
}

function isvc(name: string, labels: Record<string, string>, annotations: Record<string, string> = {}): InferenceService {
  return gpuInferenceService(ns, name, { labels, annotations }) as InferenceService;
}

const ref = (name: string) => ({ apiVersion: "serving.kserve.io/v1beta1", kind: "InferenceService", metadata: { name, namespace: ns } });
const read = async (name: string) => {
  const o = await readOrUndefined<InferenceService>(objects, ref(name));
  assert.ok(o, `${name} exists`);
  return o;
};
const annotations = async (name: string) => (await read(name)).metadata?.annotations ?? {};

async function installCrd(): Promise<void> {
  await installCrdFromDeploy(kc);
  // served (discovery can lag behind Established)
  await eventually("ServingSchedules served", async () => {
    await kc
      .makeApiClient(CustomObjectsApi)
      .listNamespacedCustomObject({ group: "reclaimer.dev", version: "v1alpha1", plural: "servingschedules", namespace: ns });
    return true;
  });
}

describe("CLI against the cluster: status, wake, sleep, plan --cluster", { timeout: 240_000 }, () => {
  before(async () => {
    await objects.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } } as KubernetesObject);
    await installCrd();
    await objects.create({
      apiVersion: "reclaimer.dev/v1alpha1",
      kind: "ServingSchedule",
      metadata: { name: "office", namespace: ns },
      spec: SPEC,
    } as KubernetesObject);
    await objects.create(isvc("llama", { team: "ml" }));
    await objects.create(isvc("orphan", {}, { [STOP]: "true" }));
    await objects.create(isvc("hands-off", { team: "ml" }, { [EXCLUDE]: "true" }));
    await eventually("llama Ready", async () => condition(await read("llama"), "Ready")?.status === "True", { timeoutMs: 90_000 });
  });

  after(async () => {
    await objects.delete({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } } as KubernetesObject).catch(() => {});
    rmSync(tmp, { recursive: true, force: true });
  });

  test("wake: sets keep-running-until to now + --for on the real object and says until when", async () => {
    const before = Date.now();
    const r = await cli(["wake", `${ns}/llama`, "--for", "90m"]);
    assert.equal(r.code, 0, r.stderr);
    const keep = (await annotations("llama"))[KEEP];
    assert.ok(keep, "annotation set");
    const at = Date.parse(keep);
    assert.ok(at >= Math.floor(before / 1000) * 1000 + 90 * 60_000 && at <= Date.now() + 90 * 60_000, `${keep} is now + 90m`);
    assert.match(keep, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.ok(r.stdout.includes(`${ns}/llama: ${KEEP} set to ${keep}`), r.stdout);
    assert.match(r.stdout, /it is running: the daemon will not stop it before then/);
    assert.equal((await annotations("llama"))[STOP], undefined, "wake does not touch the stop annotation of a scheduled service");
  });

  test('sleep: stop "true" with the daemon-style record, keep-running-until removed; KServe stops it; says when it starts again', async () => {
    const before = Date.now();
    const r = await cli(["sleep", `${ns}/llama`]);
    assert.equal(r.code, 0, r.stderr);
    const a = await annotations("llama");
    assert.equal(a[STOP], "true");
    assert.equal(a[KEEP], undefined);
    const record = JSON.parse(a[STATE] ?? "{}") as Record<string, unknown>;
    assert.deepEqual({ ...record, at: undefined }, { v: 1, action: "stop", reason: "Sleep", schedule: `${ns}/office`, at: undefined });
    const at = Date.parse(String(record.at));
    assert.ok(at >= before - 1000 && at <= Date.now() + 1000);
    const expected = nextRunning(compileSchedule(SPEC as never), at);
    assert.ok(expected);
    assert.ok(r.stdout.includes(`starts it again at its next Running transition: ${rfc3339(expected.at)}`), r.stdout);
    await eventually("KServe sets Stopped=True", async () => condition(await read("llama"), "Stopped")?.status === "True", {
      timeoutMs: 60_000,
    });
  });

  test("status ns/name: the detailed view from the cluster (JSON and table)", async () => {
    const r = await cli(["status", `${ns}/llama`, "-o", "json"]);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as {
      name: string;
      schedule: { name: string } | null;
      annotations: { stop: string | null; state: { kind: string; record?: { reason: string } }; keepRunningUntil: string | null };
      conditions: { type: string; status: string }[];
      gpus: number;
      state: string;
      confirmed: boolean;
      decision: { action: string; desired: string; reason: string };
      nextTransitions: unknown[];
    };
    assert.equal(j.name, `${ns}/llama`);
    assert.equal(j.schedule?.name, `${ns}/office`);
    assert.equal(j.annotations.stop, "true");
    assert.equal(j.annotations.state.record?.reason, "Sleep");
    assert.equal(j.annotations.keepRunningUntil, null);
    assert.equal(j.conditions.find((c) => c.type === "Stopped")?.status, "True");
    assert.equal(j.gpus, 1);
    assert.equal(j.state, "Stopped");
    assert.equal(j.confirmed, true);
    assert.deepEqual(
      [j.decision.action, j.decision.desired, j.decision.reason],
      ["none", "Stopped", "Sleep"],
      "the daemon would leave it stopped: its own stop",
    );
    assert.equal(j.nextTransitions.length, 3);
    const t = await cli(["status", `${ns}/llama`]);
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, new RegExp(`^Schedule: +${ns}/office \\(UTC\\)$`, "m"));
    assert.match(t.stdout, /reclaimer\.dev\/state +stop \(Sleep\) by/);
    assert.match(t.stdout, /Stopped=True/);
  });

  test("status -n ns: schedules with the daemon-written status, live annotations, services no schedule selects", async () => {
    let r = await cli(["status", "-n", ns]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^${ns}/office \\(UTC\\)  no status yet`, "m"));
    assert.match(r.stdout, /hands-off +Running +- +- +- +1 +- +excluded/);
    assert.match(r.stdout, /llama +Stopped +- +- +- +1 +- +-/);
    assert.match(r.stdout, new RegExp(`Not selected by any valid ServingSchedule[^\\n]*\\n  ${ns}/orphan`));
    // what the daemon writes to the status subresource is what status shows
    await kc.makeApiClient(CustomObjectsApi).patchNamespacedCustomObjectStatus(
      {
        group: "reclaimer.dev",
        version: "v1alpha1",
        plural: "servingschedules",
        namespace: ns,
        name: "office",
        body: {
          status: {
            conditions: [
              { type: "Ready", status: "True", reason: "Reconciled", message: "2 services", lastTransitionTime: new Date().toISOString() },
            ],
            services: [
              {
                name: "llama",
                state: "Stopped",
                reason: "Sleep",
                since: new Date(Date.now() - 60_000).toISOString(),
                gpus: 1,
                confirmed: true,
              },
            ],
            running: 1,
            stopped: 1,
            gpusReclaimed: 1,
            gpuHoursReclaimed: 0.25,
          },
        },
      },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    r = await cli(["status", "-n", ns, "-o", "json"]);
    assert.equal(r.code, 0, r.stderr);
    const o = JSON.parse(r.stdout) as {
      schedules: {
        name: string;
        reported: boolean;
        gpuHoursReclaimed: number;
        services: { name: string; reason: string; confirmed: boolean; live: { stop: string | null } | null }[];
      }[];
      notSelected: string[];
    };
    const office = o.schedules.find((s) => s.name === `${ns}/office`);
    assert.ok(office?.reported);
    assert.equal(office.gpuHoursReclaimed, 0.25);
    assert.deepEqual(
      office.services.map((s) => [s.name, s.reason, s.confirmed, s.live?.stop]),
      [["llama", "Sleep", true, "true"]],
    );
    assert.deepEqual(o.notSelected, [`${ns}/orphan`]);
    r = await cli(["status", "-A"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^${ns}/office \\(UTC\\)  Ready=True$`, "m"));
  });

  test("wake on a service no schedule selects starts it directly; on an excluded one it refuses and writes nothing", async () => {
    let r = await cli(["wake", `${ns}/orphan`]);
    assert.equal(r.code, 0, r.stderr);
    let a = await annotations("orphan");
    assert.equal(a[STOP], "false");
    assert.ok(a[KEEP]);
    assert.match(r.stdout, /no ServingSchedule selects it: started it directly/);
    r = await cli(["wake", `${ns}/hands-off`, "--for", "1h"]);
    assertOneLineError(r, /wake: .*hands-off: not changed: reclaimer\.dev\/exclude: "true"/);
    a = await annotations("hands-off");
    assert.equal(a[KEEP], undefined);
    r = await cli(["sleep", `${ns}/hands-off`]);
    assertOneLineError(r, /sleep: .*not changed/);
    assert.equal((await annotations("hands-off"))[STOP], undefined);
  });

  test("plan --cluster: the same JSON as plan -f for the same schedule", async () => {
    const file = join(tmp, "office.yaml");
    writeFileSync(
      file,
      stringify({ apiVersion: "reclaimer.dev/v1alpha1", kind: "ServingSchedule", metadata: { name: "office", namespace: ns }, spec: SPEC }),
    );
    const args = ["--from", "2026-12-01T00:00:00Z", "--days", "3", "-o", "json"];
    const fromCluster = await cli(["plan", "--cluster", "-n", ns, ...args]);
    assert.equal(fromCluster.code, 0, fromCluster.stderr);
    const fromFile = await new Promise<Run>((res) =>
      execFile(process.execPath, [join(repoRoot, "src", "cli", "main.ts"), "plan", "-f", file, ...args], (err, stdout, stderr) =>
        res({ code: err ? 1 : 0, stdout, stderr, ms: 0 }),
      ),
    );
    assert.equal(fromFile.code, 0, fromFile.stderr);
    assert.equal(fromCluster.stdout, fromFile.stdout);
    const table = await cli(["plan", "--cluster", "-n", ns, "--from", "2026-12-01T00:00:00Z", "--days", "1"]);
    assert.equal(table.code, 0);
    assert.match(table.stdout, new RegExp(`^${ns}/office \\(UTC\\)`, "m"));
    const none = await cli(["plan", "--cluster", "-n", `${ns}-empty`]);
    assertOneLineError(none, /no ServingSchedule found in namespace/);
  });

  test("errors: not found, forbidden, cannot connect are one line and exit 1; usage errors exit 2", async () => {
    assertOneLineError(await cli(["status", `${ns}/nope`]), new RegExp(`status: InferenceService ${ns}/nope not found`));
    assertOneLineError(await cli(["wake", `${ns}/nope`]), /not found/);
    const sa = await kubeconfigForServiceAccount(env.kubeconfigPath, ns, "default", { path: join(tmp, "sa.kubeconfig") });
    assertOneLineError(await cli(["status", `${ns}/llama`], sa.path), /status: forbidden: .*cannot get resource "inferenceservices"/);
    assertOneLineError(await cli(["sleep", `${ns}/llama`], sa.path), /forbidden/);
    const dead = join(tmp, "dead.kubeconfig");
    writeFileSync(
      dead,
      stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: "c", cluster: { server: "https://127.0.0.1:59998", "insecure-skip-tls-verify": true } }],
        users: [{ name: "u", user: { token: "x" } }],
        contexts: [{ name: "c", context: { cluster: "c", user: "u" } }],
        "current-context": "c",
      }),
    );
    assertOneLineError(
      await cli(["status", "-A"], dead),
      /cannot reach the Kubernetes API at https:\/\/127\.0\.0\.1:59998: connect ECONNREFUSED/,
    );
    assertOneLineError(await cli(["status", "--context", "nope"]), /context nope not found in kubeconfig/);
    const usage = await cli(["status", "-n", ns, "-A"]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /give -n or -A, not both/);
    assert.equal((await cli(["wake", `${ns}/llama`, "--for", "soon"])).code, 2);
  });
});
