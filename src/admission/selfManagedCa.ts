// Self-managed certificates (no cert-manager): the CA and serving certificate live in one Secret
// next to the daemon, so every replica serves the same one and a restart reuses it; the CA goes into
// the caBundle of the ValidatingWebhookConfiguration, which is the only cluster-scoped write.
// Replicas race benignly: creates and updates carry preconditions, and the loser reads the winner's.
import {
  AdmissionregistrationV1Api,
  CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type V1Secret,
} from "@kubernetes/client-node";
import { apiFailure } from "../act/apiError.ts";
import { renewed, type WebhookPki } from "./certificates.ts";

export type SelfManagedCaOptions = {
  kubeConfig: KubeConfig;
  namespace: string;
  secretName: string;
  configurationName: string;
  hosts: readonly string[];
};

const KEYS = { caCert: "ca.crt", caKey: "ca.key", cert: "tls.crt", key: "tls.key" } as const;

function fromSecret(secret: V1Secret | undefined): Partial<WebhookPki> {
  const out: Partial<WebhookPki> = {};
  for (const [field, key] of Object.entries(KEYS) as [keyof WebhookPki, string][]) {
    const b64 = secret?.data?.[key];
    if (b64 !== undefined) out[field] = Buffer.from(b64, "base64").toString("utf8");
  }
  return out;
}

function secretData(pki: WebhookPki): Record<string, string> {
  const data: Record<string, string> = {};
  for (const [field, key] of Object.entries(KEYS) as [keyof WebhookPki, string][]) data[key] = Buffer.from(pki[field]).toString("base64");
  return data;
}

export class SelfManagedCa {
  private readonly core: CoreV1Api;
  private readonly admission: AdmissionregistrationV1Api;
  private readonly opts: SelfManagedCaOptions;

  constructor(opts: SelfManagedCaOptions) {
    this.opts = opts;
    this.core = opts.kubeConfig.makeApiClient(CoreV1Api);
    this.admission = opts.kubeConfig.makeApiClient(AdmissionregistrationV1Api);
  }

  /** The certificates to serve now: the Secret's, renewed (and written back) when due. Throws with a readable message. */
  async certificates(now: number): Promise<WebhookPki> {
    const { namespace, secretName: name } = this.opts;
    for (let attempt = 0; attempt < 3; attempt++) {
      const current = await this.readSecret();
      const have = fromSecret(current);
      const pki = renewed(have, this.opts.hosts, now);
      if (pki === have) return pki;
      try {
        if (current === undefined) {
          await this.core.createNamespacedSecret({
            namespace,
            body: {
              metadata: { name, namespace, labels: { "app.kubernetes.io/managed-by": "kserve-reclaimer" } },
              type: "Opaque",
              data: secretData(pki),
            },
          });
        } else {
          // resourceVersion in the body: a replica that renewed first wins, this one re-reads.
          await this.core.replaceNamespacedSecret({ namespace, name, body: { ...current, data: { ...current.data, ...secretData(pki) } } });
        }
        return pki;
      } catch (err) {
        const f = apiFailure(err);
        if (f.code !== 409) throw new Error(`cannot write Secret ${namespace}/${name}: ${f.message}`, { cause: err });
      }
    }
    throw new Error(`Secret ${namespace}/${name} kept changing while renewing the webhook certificate`);
  }

  /** Writes the CA into every webhook of the configuration that lacks it; returns how many were changed. */
  async injectCaBundle(caCert: string): Promise<number> {
    const name = this.opts.configurationName;
    let config: Awaited<ReturnType<AdmissionregistrationV1Api["readValidatingWebhookConfiguration"]>>;
    try {
      config = await this.admission.readValidatingWebhookConfiguration({ name });
    } catch (err) {
      throw new Error(`cannot read ValidatingWebhookConfiguration ${name}: ${apiFailure(err).message}`, { cause: err });
    }
    const bundle = Buffer.from(caCert).toString("base64");
    const ops: object[] = [];
    (config.webhooks ?? []).forEach((w, i) => {
      if (w.clientConfig.caBundle !== bundle) ops.push({ op: "add", path: `/webhooks/${i}/clientConfig/caBundle`, value: bundle });
    });
    if (ops.length === 0) return 0;
    // The test pins the list we indexed: an edit in between makes the patch fail instead of hitting the wrong webhook.
    const patch = [{ op: "test", path: "/metadata/resourceVersion", value: config.metadata?.resourceVersion }, ...ops];
    try {
      await this.admission.patchValidatingWebhookConfiguration(
        { name, body: patch },
        setHeaderOptions("Content-Type", PatchStrategy.JsonPatch),
      );
    } catch (err) {
      throw new Error(`cannot set caBundle of ValidatingWebhookConfiguration ${name}: ${apiFailure(err).message}`, { cause: err });
    }
    return ops.length;
  }

  private async readSecret(): Promise<V1Secret | undefined> {
    const { namespace, secretName: name } = this.opts;
    try {
      return await this.core.readNamespacedSecret({ namespace, name });
    } catch (err) {
      const f = apiFailure(err);
      if (f.code === 404) return undefined;
      throw new Error(`cannot read Secret ${namespace}/${name}: ${f.message}`, { cause: err });
    }
  }
}
