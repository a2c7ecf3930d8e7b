// People's rights from each install path, against the real API server and the real ClusterRole
// aggregation controller (kube-controller-manager): a ServiceAccount bound only to the built-in
// `edit` role in one namespace creates a ServingSchedule there and wakes an InferenceService there
// with the real CLI (`kserve-reclaimer wake`), and is refused both in another namespace; one bound
// to `view` reads schedules and writes none.
// The two paths aggregate into the same built-in roles, so each runs alone: the other path's roles
// are removed first and the test waits until `edit` has lost the rights, which proves the rights
// seen afterwards come from the path under test.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import {
  AuthorizationV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type KubernetesObject,
} from "@kubernetes/client-node";
import { clusterFromEnv, pinnedBinary } from "../support/cluster.ts";
import { eventually, readOrUndefined } from "../support/kube.ts";
import { kubeconfigForServiceAccount } from "../support/serviceAccount.ts";
import { apply, createNamespace, gpuService, kube, schedule } from "../support/daemon.ts";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const cluster = clusterFromEnv();
const { objects } = kube(cluster.kubeconfigPath);
const suffix = Date.now().toString(36).slice(-5);
const MINE = `rbac-a-${suffix}`; // where the ServiceAccounts hold edit / view
const OTHER = `rbac-b-${suffix}`; // where they hold nothing
const HELM_RELEASE = "reclaimer-rbac";
const HELM_NAMESPACE = `reclaimer-rbac-${suffix}`;
const KUSTOMIZE_ROLES = ["kserve-reclaimer-edit", "kserve-reclaimer-view", "kserve-reclaimer-edit-inferenceservices"];
const HELM_ROLES = ["edit", "view", "edit-inferenceservices"].map((r) => `${HELM_RELEASE}-kserve-reclaimer-${r}`);
const tmp = mkdtempSync(join(tmpdir(), "reclaimer-user-rbac-"));
let editor: KubeConfig;
let editorPath: string;
let viewer: KubeConfig;
let helmInstalled = false;

const clusterRole = (name: string) => ({ apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", metadata: { name } });
const asFile = (path: string) => {
  const k = new KubeConfig();
  k.loadFromFile(path);
  return k;
};

function parse(text: string): KubernetesObject[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as KubernetesObject | null)
    .filter((o): o is KubernetesObject => o !== null && o !== undefined);
}

async function allowed(k: KubeConfig, verb: string, group: string, resource: string, namespace: string): Promise<boolean> {
  const review = await k.makeApiClient(AuthorizationV1Api).createSelfSubjectAccessReview({
    body: {
      apiVersion: "authorization.k8s.io/v1",
      kind: "SelfSubjectAccessReview",
      spec: { resourceAttributes: { verb, group, resource, namespace } },
    },
  });
  return review.status?.allowed === true;
}

const canCreateSchedules = (k: KubeConfig) => allowed(k, "create", "reclaimer.dev", "servingschedules", MINE);
const canPatchServices = (k: KubeConfig) => allowed(k, "patch", "serving.kserve.io", "inferenceservices", MINE);

async function removeRoles(names: string[]): Promise<void> {
  for (const name of names) {
    try {
      await objects.delete(clusterRole(name));
    } catch (err) {
      if ((err as { code?: number }).code !== 404) throw err;
    }
  }
}

/** Aggregation is a controller: wait until `edit` has (or has lost) what the roles add. */
async function waitForEdit(granted: boolean): Promise<void> {
  await eventually(
    `edit ${granted ? "grants" : "no longer grants"} ServingSchedule create and InferenceService patch`,
    async () => (await canCreateSchedules(editor)) === granted && (await canPatchServices(editor)) === granted,
    { timeoutMs: 60_000 },
  );
}

function cli(args: string[], kubeconfig: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [join(repoRoot, "src", "cli", "main.ts"), ...args, "--kubeconfig", kubeconfig],
      { env: { ...process.env, NO_COLOR: "1" }, timeout: 60_000 },
      (err, stdout, stderr) => done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const schedules = (k: KubeConfig) => k.makeApiClient(CustomObjectsApi);
const scheduleCoords = { group: "reclaimer.dev", version: "v1alpha1", plural: "servingschedules" };

/** The whole promise, as the editor and the viewer: allowed in MINE, refused in OTHER. */
async function editorCanWorkInItsNamespaceOnly(path: string): Promise<void> {
  const name = `${path}-hours`;
  const body = schedule(MINE, name, {
    selector: { matchLabels: { team: "nlp" } },
    uptime: [{ days: "Mon-Fri", from: "08:00", to: "20:00" }],
  });
  await eventually(
    "the editor creates a ServingSchedule in its namespace",
    async () => {
      await schedules(editor).createNamespacedCustomObject({ ...scheduleCoords, namespace: MINE, body });
      return true;
    },
    { timeoutMs: 20_000 },
  );
  await schedules(editor).patchNamespacedCustomObject(
    { ...scheduleCoords, namespace: MINE, name, body: { spec: { suspend: true } } },
    setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
  );
  await assert.rejects(
    () =>
      schedules(editor).createNamespacedCustomObject({
        ...scheduleCoords,
        namespace: OTHER,
        body: { ...body, metadata: { name, namespace: OTHER } },
      }),
    (err: { code?: number }) => err.code === 403,
    "no ServingSchedule in a namespace where it holds nothing",
  );
  assert.equal(await allowed(editor, "patch", "reclaimer.dev", "servingschedules/status", MINE), false, "status is the daemon's");

  // wake with the real CLI: get the service, list the namespace's schedules, merge-patch annotations
  const woke = await cli(["wake", `${MINE}/llama`, "--for", "30m"], editorPath);
  assert.equal(woke.code, 0, `wake in ${MINE}: ${woke.stderr}`);
  const isvc = await readOrUndefined<KubernetesObject>(objects, {
    apiVersion: "serving.kserve.io/v1beta1",
    kind: "InferenceService",
    metadata: { name: "llama", namespace: MINE },
  });
  assert.ok(isvc?.metadata?.annotations?.["reclaimer.dev/keep-running-until"], "wake wrote keep-running-until");
  const refused = await cli(["wake", `${OTHER}/llama`, "--for", "30m"], editorPath);
  assert.equal(refused.code, 1, refused.stdout);
  assert.match(refused.stderr, /forbidden|403/i);
  const other = await readOrUndefined<KubernetesObject>(objects, {
    apiVersion: "serving.kserve.io/v1beta1",
    kind: "InferenceService",
    metadata: { name: "llama", namespace: OTHER },
  });
  assert.equal(other?.metadata?.annotations?.["reclaimer.dev/keep-running-until"], undefined, "nothing written in the other namespace");

  // view: read, never write
  await schedules(viewer).listNamespacedCustomObject({ ...scheduleCoords, namespace: MINE });
  assert.equal(await canCreateSchedules(viewer), false);
  assert.equal(await allowed(viewer, "list", "reclaimer.dev", "servingschedules", OTHER), false);

  await schedules(editor).deleteNamespacedCustomObject({ ...scheduleCoords, namespace: MINE, name });
}

before(async () => {
  // the CRD (shared with other tests) and the two namespaces with one service each
  const crd = parse(execFileSync(pinnedBinary("kustomize"), ["build", join(repoRoot, "deploy", "crds")], { encoding: "utf8" }));
  for (const o of crd) await apply(objects, o);
  await eventually("CRD established", async () => {
    const c = await readOrUndefined<KubernetesObject & { status?: { conditions?: { type: string; status: string }[] } }>(objects, {
      apiVersion: "apiextensions.k8s.io/v1",
      kind: "CustomResourceDefinition",
      metadata: { name: "servingschedules.reclaimer.dev" },
    });
    return c?.status?.conditions?.some((x) => x.type === "Established" && x.status === "True");
  });
  for (const ns of [MINE, OTHER]) {
    await createNamespace(objects, ns);
    await apply(objects, gpuService(ns, "llama", { labels: { team: "nlp" } }));
  }
  const rbac = "rbac.authorization.k8s.io";
  for (const [sa, role] of [
    ["editor", "edit"],
    ["viewer", "view"],
  ] as const) {
    await apply(objects, { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: sa, namespace: MINE } });
    await apply(objects, {
      apiVersion: `${rbac}/v1`,
      kind: "RoleBinding",
      metadata: { name: `${sa}-${role}`, namespace: MINE },
      roleRef: { apiGroup: rbac, kind: "ClusterRole", name: role },
      subjects: [{ kind: "ServiceAccount", name: sa, namespace: MINE }],
    } as KubernetesObject);
  }
  const e = await kubeconfigForServiceAccount(cluster.kubeconfigPath, MINE, "editor", { path: join(tmp, "editor.kubeconfig") });
  editorPath = e.path;
  editor = asFile(e.path);
  viewer = asFile(
    (await kubeconfigForServiceAccount(cluster.kubeconfigPath, MINE, "viewer", { path: join(tmp, "viewer.kubeconfig") })).path,
  );
  // a leftover of an earlier run or file must not lend its rights
  await removeRoles([...KUSTOMIZE_ROLES, ...HELM_ROLES]);
  await waitForEdit(false);
});

after(async () => {
  if (helmInstalled)
    try {
      execFileSync(pinnedBinary("helm"), ["uninstall", HELM_RELEASE, "-n", HELM_NAMESPACE, "--kubeconfig", cluster.kubeconfigPath]);
    } catch {
      // already gone
    }
  await removeRoles([...KUSTOMIZE_ROLES, ...HELM_ROLES]);
  for (const ns of [MINE, OTHER, HELM_NAMESPACE])
    try {
      await objects.delete({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } });
    } catch {
      // never created or already gone
    }
  rmSync(tmp, { recursive: true, force: true });
});

test("kustomize: deploy/ plus the edit-inferenceservices component lets `edit` manage schedules and wake services in its namespace only", {
  timeout: 180_000,
}, async () => {
  // an overlay as docs/install.md shows it, with a relative path to deploy/ (kustomize refuses absolute ones)
  const overlay = join(tmp, "overlay");
  execFileSync("mkdir", ["-p", overlay]);
  writeFileSync(
    join(overlay, "kustomization.yaml"),
    `resources:\n  - ${relative(overlay, join(repoRoot, "deploy"))}\ncomponents:\n  - ${relative(overlay, join(repoRoot, "deploy", "components", "edit-inferenceservices"))}\n`,
  );
  const built = parse(execFileSync(pinnedBinary("kustomize"), ["build", overlay], { encoding: "utf8", maxBuffer: 64 << 20 }));
  // only the people's roles: the daemon's install is deploy.test.ts's business
  const roles = built.filter((o) => o.kind === "ClusterRole" && KUSTOMIZE_ROLES.includes(o.metadata?.name ?? ""));
  assert.deepEqual(roles.map((r) => r.metadata?.name).sort(), [...KUSTOMIZE_ROLES].sort());
  for (const r of roles) await apply(objects, r);
  await waitForEdit(true);
  await editorCanWorkInItsNamespaceOnly("kustomize");
  await removeRoles(KUSTOMIZE_ROLES);
  await waitForEdit(false);
});

test("helm: `helm install --set userRoles.inferenceServices=true` lets `edit` manage schedules and wake services in its namespace only", {
  timeout: 240_000,
}, async () => {
  const out = execFileSync(
    pinnedBinary("helm"),
    [
      "install",
      HELM_RELEASE,
      join(repoRoot, "deploy", "helm", "kserve-reclaimer"),
      "-n",
      HELM_NAMESPACE,
      "--create-namespace",
      "--kubeconfig",
      cluster.kubeconfigPath,
      "--set",
      "userRoles.inferenceServices=true",
      "--set",
      "replicaCount=1",
    ],
    { encoding: "utf8" },
  );
  helmInstalled = true;
  // a real install checks the schema and kubeVersion against this API server, and prints NOTES.txt
  assert.match(out, /STATUS: deployed/);
  assert.match(
    out,
    new RegExp(`^\\s+kubectl -n ${HELM_NAMESPACE} port-forward svc/${HELM_RELEASE}-kserve-reclaimer-metrics 8080:8080$`, "m"),
  );
  assert.match(out, /^\s+curl -s localhost:8080\/metrics \| grep \^kserve_reclaimer_$/m);
  await waitForEdit(true);
  await editorCanWorkInItsNamespaceOnly("helm");

  // and the switch turns them off
  execFileSync(pinnedBinary("helm"), [
    "upgrade",
    HELM_RELEASE,
    join(repoRoot, "deploy", "helm", "kserve-reclaimer"),
    "-n",
    HELM_NAMESPACE,
    "--kubeconfig",
    cluster.kubeconfigPath,
    "--reuse-values",
    "--set",
    "userRoles.enabled=false",
    "--set",
    "userRoles.inferenceServices=false",
  ]);
  for (const name of HELM_ROLES) assert.equal(await readOrUndefined(objects, clusterRole(name)), undefined, `${name} removed`);
  await waitForEdit(false);
});
