// The validating admission webhook served by `kserve-reclaimer run --webhook-addr`, against the real
// apiserver: with a self-managed CA the daemon fills in the Secret and the caBundle; invalid
// ServingSchedules and ClusterServingSchedules are refused at create (and at an update that changes
// the spec) with the very lines `kserve-reclaimer validate` prints; a suspicious one is admitted
// with validate's warning; a restarted daemon reuses its CA; and with the daemon down the apiserver
// admits (failurePolicy Ignore) while a daemon without the webhook still reports Valid=False.
// The cluster is shared with other test files: the webhook configuration only matches this run's
// namespace and a label unique to this run, and is deleted afterwards.
//   node test/integration/run.ts test/integration/admission-webhook.test.ts
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createPrivateKey, randomBytes, X509Certificate } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request as httpsRequest, type RequestOptions } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import type { KubernetesObject } from "@kubernetes/client-node";
import { clusterFromEnv } from "../support/cluster.ts";
import { DaemonProcess, installCrd, kube } from "../support/daemon.ts";
import { condition, eventually, readOrUndefined, type Condition } from "../support/kube.ts";
import { freePort } from "../support/processes.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const cluster = clusterFromEnv();
const { kc, objects } = kube(cluster.kubeconfigPath);
const ID = `${Date.now().toString(36).slice(-4)}${randomBytes(2).toString("hex")}`;
const NS = `wh-${ID}`;
/** Where the daemon keeps its webhook Secret (as its own namespace would be in a deployment). */
const SYSTEM_NS = `wh-sys-${ID}`;
const SECRET = "kserve-reclaimer-webhook-tls";
const VWC = `kserve-reclaimer-test-${ID}`;
const WEBHOOK_NAMESPACED = `servingschedules.${ID}.reclaimer.dev`;
const WEBHOOK_CLUSTER = `clusterservingschedules.${ID}.reclaimer.dev`;
const LABEL = "reclaimer.dev/admission-test";
const API = "/apis/reclaimer.dev/v1alpha1";
const SCHEDULES = `${API}/namespaces/${NS}/servingschedules`;
const CLUSTER_SCHEDULES = `${API}/clusterservingschedules`;
const MARS = "Mars/Olympus_Mons";
const tmp = mkdtempSync(join(tmpdir(), "admission-webhook-test-"));
let port = 0;
let daemon: DaemonProcess | undefined;

type Obj = KubernetesObject & { spec?: Record<string, unknown>; status?: { conditions?: Condition[] } };

const servingSchedule = (name: string, spec: Record<string, unknown>): Obj => ({
  apiVersion: "reclaimer.dev/v1alpha1",
  kind: "ServingSchedule",
  metadata: { name, namespace: NS },
  spec,
});
const WINDOW = { days: "Mon-Fri", from: "08:00", to: "20:00" };
const OFFICE = { timeZone: "UTC", uptime: [WINDOW] };
// Accepted by the CRD's schema (which runs first), refused only by the meaning validate checks.
const INVALID = {
  zone: servingSchedule("bad-zone", { timeZone: MARS, uptime: [WINDOW] }),
  hour: servingSchedule("bad-hour", { uptime: [{ cron: { start: "0 25 * * 1-5", stop: "30 26 * * 1-5" } }] }),
  never: servingSchedule("never-fires", { uptime: [{ cron: { start: "0 8 30 2 *", stop: "0 9 * * *" } }] }),
};
const VALID = servingSchedule("office", OFFICE);
const FLAPPING = servingSchedule("flapping", { timeZone: "UTC", uptime: [{ days: "*", from: "08:00", to: "08:05" }] });
const DOWN = servingSchedule("admitted-while-down", { timeZone: MARS, uptime: [WINDOW] });
const CLUSTER_INVALID: Obj = {
  apiVersion: "reclaimer.dev/v1alpha1",
  kind: "ClusterServingSchedule",
  metadata: { name: `bad-zone-${ID}`, labels: { [LABEL]: ID } },
  spec: { namespaceSelector: { matchLabels: { [LABEL]: ID } }, timeZone: MARS, uptime: [WINDOW] },
};

/** What `kserve-reclaimer validate` prints for each document, by namespace/name, without the `<file>:<line>: <name>: ` prefix. */
let expected: Map<string, string[]>;

async function validateLines(docs: Obj[]): Promise<Map<string, string[]>> {
  const file = join(tmp, "documents.yaml");
  writeFileSync(file, docs.map((d) => stringify(d)).join("---\n"));
  const stderr = await new Promise<string>((resolve, reject) =>
    execFile(
      process.execPath,
      [join(ROOT, "src", "cli", "main.ts"), "validate", file],
      { cwd: ROOT, timeout: 60_000 },
      (err, _out, errOut) => {
        // exit 1: some are invalid; anything else (usage, a crash) is not what this test is about
        if (err && (err as { code?: unknown }).code !== 1) reject(new Error(`validate failed: ${err.message}\n${errOut}`));
        else resolve(errOut);
      },
    ),
  );
  const lines = new Map<string, string[]>();
  for (const line of stderr.trimEnd().split("\n")) {
    const m = new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:\\d+: (\\S+): (.*)$`).exec(line);
    assert.ok(m, `validate's line has the documented form: ${line}`);
    const [, name = "", rest = ""] = m;
    lines.set(name, [...(lines.get(name) ?? []), rest]);
  }
  return lines;
}
const expectedFor = (o: Obj): string[] => {
  const key = o.metadata?.namespace ? `${o.metadata.namespace}/${o.metadata?.name}` : (o.metadata?.name ?? "");
  const lines = expected.get(key);
  assert.ok(lines && lines.length > 0, `validate printed something for ${key}`);
  return lines;
};

type Reply = { status: number; body: { message?: string; metadata?: { generation?: number } } & Obj; warnings: string[] };

/** `299 - "text"` (the apiserver's Warning header) to text. */
function warningText(raw: string): string {
  // Node reads header bytes as latin1; the apiserver sends the webhook's text as UTF-8 (as kubectl reads it)
  const header = Buffer.from(raw, "latin1").toString("utf8");
  const m = /^299 - "((?:[^"\\]|\\.)*)"$/.exec(header);
  assert.ok(m, `a Warning header of the form 299 - "...": ${header}`);
  return (m[1] ?? "").replace(/\\(.)/g, "$1");
}

/** A raw request to the apiserver (admin credentials), keeping the status, the Status message and each Warning header. */
async function api(method: string, path: string, body?: unknown, contentType = "application/json"): Promise<Reply> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const options: RequestOptions = {
    method,
    timeout: 30_000,
    headers: payload === undefined ? {} : { "content-type": contentType, "content-length": Buffer.byteLength(payload) },
  };
  await kc.applyToHTTPSOptions(options);
  const server = kc.getCurrentCluster()?.server;
  assert.ok(server);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(new URL(path, server), options, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (text += chunk));
      res.on("end", () => {
        const warnings: string[] = [];
        for (let i = 0; i < res.rawHeaders.length; i += 2)
          if (res.rawHeaders[i]?.toLowerCase() === "warning") warnings.push(warningText(res.rawHeaders[i + 1] ?? ""));
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Reply["body"], warnings });
        } catch {
          reject(new Error(`${method} ${path}: ${res.statusCode} ${text}`));
        }
      });
    });
    req.on("timeout", () => req.destroy(new Error(`${method} ${path}: timeout`)));
    req.on("error", reject);
    req.end(payload);
  });
}

const deniedBy = (webhook: string, lines: string[]) => `admission webhook "${webhook}" denied the request: ${lines.join("\n")}`;

function assertDenied(reply: Reply, webhook: string, lines: string[], what: string): void {
  assert.ok(reply.status >= 400 && reply.status < 500, `${what}: refused, got ${reply.status} ${JSON.stringify(reply.body)}`);
  assert.equal(reply.body.message, deniedBy(webhook, lines), what);
}

/** The webhook answers (a dry-run create of an invalid schedule is refused): the apiserver sees the caBundle and the daemon serves. */
async function webhookServing(): Promise<void> {
  await eventually(
    "the webhook refuses a dry-run create of an invalid schedule",
    async () =>
      (await api("POST", `${SCHEDULES}?dryRun=All`, servingSchedule("probe", { timeZone: MARS, uptime: [WINDOW] }))).status >= 400,
    { timeoutMs: 30_000, describe: async () => daemon?.tail() ?? "no daemon" },
  );
}

function webhookDaemon(name: string): DaemonProcess {
  return new DaemonProcess(name, [
    "--kubeconfig",
    cluster.kubeconfigPath,
    "--namespaces",
    NS,
    "--webhook-addr",
    `127.0.0.1:${port}`,
    "--webhook-self-managed-ca",
    "--webhook-namespace",
    SYSTEM_NS,
    "--webhook-configuration",
    VWC,
    "--webhook-cert-hosts",
    "127.0.0.1",
  ]);
}

type Vwc = KubernetesObject & { webhooks: { name: string; clientConfig: { caBundle?: string } }[] };
type Secret = KubernetesObject & { data?: Record<string, string> };
const readVwc = () =>
  readOrUndefined<Vwc>(objects, {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "ValidatingWebhookConfiguration",
    metadata: { name: VWC },
  });
const readSecret = () =>
  readOrUndefined<Secret>(objects, { apiVersion: "v1", kind: "Secret", metadata: { name: SECRET, namespace: SYSTEM_NS } });
const readSchedule = (name: string) =>
  readOrUndefined<Obj>(objects, { apiVersion: "reclaimer.dev/v1alpha1", kind: "ServingSchedule", metadata: { name, namespace: NS } });

const common = { failurePolicy: "Ignore", sideEffects: "None", admissionReviewVersions: ["v1"], timeoutSeconds: 5 };
const rule = (resource: string, scope: string) => ({
  apiGroups: ["reclaimer.dev"],
  apiVersions: ["v1alpha1"],
  operations: ["CREATE", "UPDATE"],
  resources: [resource],
  scope,
});

before(async () => {
  await installCrd(kc);
  await installCrd(kc, "cluster");
  for (const name of [NS, SYSTEM_NS]) await objects.create({ apiVersion: "v1", kind: "Namespace", metadata: { name } });
  port = await freePort();
  const url = `https://127.0.0.1:${port}/validate`;
  await objects.create({
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "ValidatingWebhookConfiguration",
    metadata: { name: VWC },
    webhooks: [
      {
        name: WEBHOOK_NAMESPACED,
        clientConfig: { url },
        rules: [rule("servingschedules", "Namespaced")],
        namespaceSelector: { matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "In", values: [NS] }] },
        ...common,
      },
      {
        name: WEBHOOK_CLUSTER,
        clientConfig: { url },
        rules: [rule("clusterservingschedules", "Cluster")],
        objectSelector: { matchLabels: { [LABEL]: ID } },
        ...common,
      },
    ],
  } as KubernetesObject);
  expected = await validateLines([...Object.values(INVALID), VALID, FLAPPING, DOWN, CLUSTER_INVALID]);
});

after(async () => {
  const code = await daemon?.stop("SIGTERM");
  const gone = { apiVersion: "admissionregistration.k8s.io/v1", kind: "ValidatingWebhookConfiguration", metadata: { name: VWC } };
  await objects.delete(gone).catch(() => {});
  await objects.delete(CLUSTER_INVALID).catch(() => {});
  for (const name of [NS, SYSTEM_NS]) await objects.delete({ apiVersion: "v1", kind: "Namespace", metadata: { name } }).catch(() => {});
  rmSync(tmp, { recursive: true, force: true });
  assert.equal(code ?? 0, 0, "SIGTERM ends the daemon cleanly");
});

test("a self-managed CA: the Secret with its four keys, a serving certificate for 127.0.0.1, the CA in both caBundles", async () => {
  daemon = webhookDaemon("daemon-webhook");
  await daemon.ready();
  const vwc = await eventually(
    "caBundle on both webhooks",
    async () => {
      const v = await readVwc();
      return v?.webhooks.every((w) => w.clientConfig.caBundle) ? v : undefined;
    },
    { timeoutMs: 30_000, describe: async () => daemon?.tail() ?? "" },
  );
  const secret = await readSecret();
  assert.ok(secret?.data, "the Secret exists");
  assert.deepEqual(Object.keys(secret.data).sort(), ["ca.crt", "ca.key", "tls.crt", "tls.key"]);
  for (const w of vwc.webhooks) assert.equal(w.clientConfig.caBundle, secret.data["ca.crt"], `${w.name}'s caBundle is the Secret's CA`);
  const pem = (key: string) => Buffer.from(secret.data?.[key] ?? "", "base64").toString("utf8");
  const ca = new X509Certificate(pem("ca.crt"));
  const serving = new X509Certificate(pem("tls.crt"));
  assert.ok(ca.ca, "ca.crt is a CA");
  assert.ok(serving.checkIssued(ca) && serving.verify(ca.publicKey), "tls.crt is signed by ca.crt");
  assert.ok(serving.checkPrivateKey(createPrivateKey(pem("tls.key"))), "tls.key is tls.crt's key");
  const sans = serving.subjectAltName ?? "";
  assert.match(sans, /IP Address:127\.0\.0\.1/, "--webhook-cert-hosts 127.0.0.1 is an IP SAN");
  assert.match(sans, new RegExp(`DNS:kserve-reclaimer-webhook\\.${SYSTEM_NS}\\.svc\\b`), "the in-cluster Service name is a DNS SAN");
  await webhookServing();
});

test("creates of invalid schedules are refused with exactly the lines validate prints", async () => {
  for (const [what, o] of Object.entries(INVALID)) {
    const lines = expectedFor(o);
    if (what === "hour") assert.equal(lines.length, 2, "two problems: both lines, joined by a newline");
    assertDenied(await api("POST", SCHEDULES, o), WEBHOOK_NAMESPACED, lines, what);
    assert.equal(await readSchedule(o.metadata?.name ?? ""), undefined, `${what}: not created`);
  }
  assert.match(expectedFor(INVALID.zone).join(), /^spec\.timeZone: /);
  assert.match(expectedFor(INVALID.never).join(), /^spec\.uptime\[0\]\.cron\.start: .*never occurs/);
});

test("a valid schedule is created; a suspicious one is created with validate's warning", async () => {
  const ok = await api("POST", SCHEDULES, VALID);
  assert.equal(ok.status, 201, JSON.stringify(ok.body));
  assert.deepEqual(ok.warnings, []);
  assert.equal(expected.get(`${NS}/office`), undefined, "validate says nothing about it either");

  const flapping = await api("POST", SCHEDULES, FLAPPING);
  assert.equal(flapping.status, 201, JSON.stringify(flapping.body));
  // validate's `<path>: warning: <message>`; the webhook leaves out "warning: " (kubectl prints
  // "Warning: " itself) and otherwise sends validate's text whole.
  const want = expectedFor(FLAPPING).map((l) => l.replace(/^([^:]+): warning: /, "$1: "));
  assert.match(want.join(), /^spec\.uptime\[0\]: changes state 5 minutes after the previous change/);
  assert.deepEqual(flapping.warnings, want);
});

test("an update of the valid schedule to an invalid spec is refused; the object is unchanged", async () => {
  const original = await readSchedule("office");
  assert.ok(original);
  const reply = await api("PATCH", `${SCHEDULES}/office`, { spec: { timeZone: MARS } }, "application/merge-patch+json");
  // the same spec as bad-zone's, so the same line
  assertDenied(reply, WEBHOOK_NAMESPACED, expectedFor(INVALID.zone), "update to an unknown zone");
  const now = await readSchedule("office");
  assert.equal(now?.metadata?.generation, original.metadata?.generation, "the spec's generation is unchanged");
  assert.deepEqual(now?.spec, original.spec);
  assert.equal(now?.spec?.["timeZone"], "UTC");
});

test("an invalid ClusterServingSchedule is refused", async () => {
  const lines = expectedFor(CLUSTER_INVALID);
  assert.match(lines.join(), /^spec\.timeZone: /);
  assertDenied(await api("POST", CLUSTER_SCHEDULES, CLUSTER_INVALID), WEBHOOK_CLUSTER, lines, "cluster schedule with an unknown zone");
  const got = await readOrUndefined(objects, CLUSTER_INVALID as { apiVersion: string; kind: string; metadata: { name: string } });
  assert.equal(got, undefined, "not created");
});

test("with the daemon down an invalid schedule is admitted (failurePolicy Ignore); restarted, it reuses its CA and allows metadata edits", async () => {
  const [secret, vwc] = [await readSecret(), await readVwc()];
  assert.equal(await daemon?.stop("SIGTERM"), 0);
  const admitted = await api("POST", SCHEDULES, DOWN);
  assert.equal(admitted.status, 201, `admitted while the webhook is down: ${JSON.stringify(admitted.body)}`);

  daemon = webhookDaemon("daemon-webhook-restarted");
  await daemon.ready();
  await webhookServing();
  assert.equal((await readSecret())?.data?.["ca.crt"], secret?.data?.["ca.crt"], "the same CA");
  assert.deepEqual(
    (await readVwc())?.webhooks.map((w) => w.clientConfig.caBundle),
    vwc?.webhooks.map((w) => w.clientConfig.caBundle),
    "caBundle unchanged",
  );
  // the invalid object admitted before can still be labelled (its spec is not changed), with a warning
  const labelled = await api(
    "PATCH",
    `${SCHEDULES}/${DOWN.metadata?.name}`,
    { metadata: { labels: { team: "ml" } } },
    "application/merge-patch+json",
  );
  assert.equal(labelled.status, 200, JSON.stringify(labelled.body));
  assert.equal(labelled.warnings.length, 1, JSON.stringify(labelled.warnings));
  assert.match(labelled.warnings[0] ?? "", /invalid/);
  assert.equal((await readSchedule(DOWN.metadata?.name ?? ""))?.metadata?.labels?.["team"], "ml");
  // but not changed into another invalid spec
  const changed = await api("PATCH", `${SCHEDULES}/${DOWN.metadata?.name}`, { spec: { warmup: "5m" } }, "application/merge-patch+json");
  assertDenied(changed, WEBHOOK_NAMESPACED, expectedFor(DOWN), "a spec change that leaves it invalid");
});

test("a daemon without the webhook reports the admitted invalid schedule as Valid=False", async () => {
  assert.equal(await daemon?.stop("SIGTERM"), 0);
  daemon = new DaemonProcess("daemon-no-webhook", ["--kubeconfig", cluster.kubeconfigPath, "--namespaces", NS]);
  await daemon.ready();
  const valid = await eventually("Valid=False in the status", async () => {
    const c = condition(await readSchedule(DOWN.metadata?.name ?? ""), "Valid");
    return c?.status === "False" ? c : undefined;
  });
  assert.equal(valid.reason, "Invalid");
  assert.match(valid.message ?? "", /timeZone/);
});
