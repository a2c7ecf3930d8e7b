// The Helm chart's values as a zod schema: the source of deploy/helm/kserve-reclaimer/values.schema.json
// (scripts/generate-chart.ts). Helm checks the merged values against that file on every install,
// upgrade and template, so a typo (`prometheus.ulr`), a number where a tag belongs, or a setting
// that would open the NetworkPolicy wide is refused before anything reaches the cluster.
// values.yaml and this schema list the same keys: test/unit/deploy/helm-schema.test.ts.
import { z } from "zod";
import { DaemonConfig } from "../src/daemon/config.ts";

// The daemon's own lists, so the chart cannot offer a value `run` refuses.
const logLevel = DaemonConfig.shape.logLevel.unwrap();
const deploymentMode = DaemonConfig.shape.defaultDeploymentMode.unwrap();

// the daemon's duration syntax (src/schedule/duration.ts); its bounds are checked when the pod starts
const duration = z
  .string()
  .regex(/^([0-9]+h)?([0-9]+m)?([0-9]+s)?$/, "a duration such as 15s, 2m or 1h30m")
  .min(2);
// Prometheus' own duration syntax, as the Prometheus operator's CRDs accept it
const promDuration = z
  .string()
  .regex(/^(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?$/)
  .min(2);
const dnsLabel = z
  .string()
  .max(63)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
const dnsSubdomain = z
  .string()
  .max(253)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/);
const orEmpty = <T extends z.ZodType>(t: T) => z.union([z.literal(""), t]);
const port = z.int().min(1).max(65535);
const stringMap = z.record(z.string(), z.string());
// Kubernetes structures the chart passes through untouched (affinity, resources, peers): the API server validates them.
const k8sObject = z.looseObject({});
const named = z.looseObject({ name: z.string().min(1) });
// An empty ports list in a NetworkPolicy rule means every port: never let a list that guards a port be empty.
const ports = z.array(port).min(1);

export const HelmValues = z.strictObject({
  // set by a parent chart when this one is a dependency
  global: z.optional(k8sObject),
  image: z.strictObject({
    repository: z.string().min(1),
    // a number here (--set image.tag=1.10) would render as 1.1: tags are strings (--set-string)
    tag: z.string(),
    pullPolicy: z.enum(["Always", "IfNotPresent", "Never"]),
  }),
  imagePullSecrets: z.array(named),
  nameOverride: z.string(),
  fullnameOverride: z.string(),
  replicaCount: z.int().min(0),
  namespaces: z.array(dnsLabel),
  leaderElection: z.strictObject({ enabled: z.boolean(), leaseName: orEmpty(dnsSubdomain) }),
  logLevel,
  dryRun: z.boolean(),
  idleInterval: duration,
  defaultDeploymentMode: deploymentMode,
  confirmStopTimeout: duration,
  confirmStartTimeout: duration,
  kube: z.strictObject({ qps: z.number().positive(), burst: z.int().min(1) }),
  prometheus: z.strictObject({
    url: orEmpty(z.string().regex(/^https?:\/\/[^\s]+$/, "an http:// or https:// URL")),
    timeout: duration,
    bearerToken: z.strictObject({ serviceAccountToken: z.boolean(), secretName: orEmpty(dnsSubdomain), secretKey: z.string().min(1) }),
    basicAuth: z.strictObject({ username: z.string(), passwordSecretName: orEmpty(dnsSubdomain), passwordSecretKey: z.string().min(1) }),
    tls: z.strictObject({
      caConfigMapName: orEmpty(dnsSubdomain),
      caSecretName: orEmpty(dnsSubdomain),
      caKey: z.string().min(1),
      openshiftServiceCA: z.boolean(),
      clientCertSecretName: orEmpty(dnsSubdomain),
      insecureSkipVerify: z.boolean(),
    }),
    headers: z.array(z.string().regex(/^[A-Za-z0-9-]+:\s*.*$/, '"Name: value"')),
    allowInsecureCredentials: z.boolean(),
  }),
  customQueries: z.strictObject({ enabled: z.boolean(), namespaceLabel: z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/) }),
  extraArgs: z.array(z.string()),
  extraEnv: z.array(named),
  resources: k8sObject,
  podSecurityContext: k8sObject,
  securityContext: k8sObject,
  serviceAccount: z.strictObject({ create: z.boolean(), name: orEmpty(dnsSubdomain), annotations: stringMap }),
  podAnnotations: stringMap,
  podLabels: stringMap,
  priorityClassName: z.string(),
  nodeSelector: stringMap,
  tolerations: z.array(k8sObject),
  affinity: k8sObject,
  topologySpread: z.boolean(),
  terminationGracePeriodSeconds: z.int().min(0),
  podDisruptionBudget: z.strictObject({ enabled: z.boolean(), maxUnavailable: z.union([z.int().min(0), z.string().regex(/^[0-9]+%$/)]) }),
  service: z.strictObject({ port }),
  webhook: z.strictObject({
    enabled: z.boolean(),
    port,
    // the API server caps a webhook's timeout at 30 seconds
    timeoutSeconds: z.int().min(1).max(30),
    // Fail refuses every apply of a schedule while no replica answers: a choice, never the default
    failurePolicy: z.enum(["Ignore", "Fail"]),
    certManager: z.strictObject({
      enabled: z.boolean(),
      // a cert-manager ObjectReference ({kind, name, group}); empty: the chart creates a self-signed Issuer
      issuerRef: z.union([
        z.strictObject({}),
        z.strictObject({ name: z.string().min(1), kind: z.optional(z.string().min(1)), group: z.optional(z.string().min(1)) }),
      ]),
    }),
  }),
  waker: z.strictObject({
    enabled: z.boolean(),
    replicaCount: z.int().min(0),
    terminationGracePeriodSeconds: z.int().min(0),
    extraArgs: z.array(z.string()),
    resources: k8sObject,
  }),
  serviceMonitor: z.strictObject({ enabled: z.boolean(), interval: promDuration, scrapeTimeout: promDuration, labels: stringMap }),
  prometheusRule: z.strictObject({ enabled: z.boolean(), labels: stringMap, alertLabels: stringMap }),
  userRoles: z.strictObject({ enabled: z.boolean(), inferenceServices: z.boolean() }),
  networkPolicy: z.strictObject({
    enabled: z.boolean(),
    metricsFrom: z.array(k8sObject),
    apiServer: z.strictObject({
      ports,
      cidrs: z.array(z.string().regex(/^[0-9a-fA-F.:]+\/[0-9]{1,3}$/, "a CIDR such as 10.0.0.1/32")),
    }),
    dnsPorts: ports,
    prometheusTo: z.array(k8sObject),
    extraEgress: z.array(k8sObject),
  }),
  grafanaDashboard: z.strictObject({ enabled: z.boolean(), namespace: orEmpty(dnsLabel), labels: stringMap, annotations: stringMap }),
  extraObjects: z.array(z.union([z.string(), z.looseObject({ apiVersion: z.string().min(1), kind: z.string().min(1) })])),
});

/** values.schema.json: JSON Schema draft 7, which every Helm 3 release understands. */
export function renderValuesSchema(): string {
  const schema = z.toJSONSchema(HelmValues, { target: "draft-7", io: "input", unrepresentable: "throw" });
  return `${JSON.stringify({ ...schema, title: "Values of the kserve-reclaimer Helm chart (generated from scripts/helm-values.ts)" }, null, 2)}\n`;
}
