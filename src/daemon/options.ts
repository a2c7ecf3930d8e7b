// What the configuration means for two adapters with many settings: the Prometheus client and the
// admission webhook's certificates.
import type { CertificateSource } from "../admission/webhook.ts";
import type { createPrometheusClient } from "../sources/prometheus/client.ts";
import type { DaemonConfig } from "./config.ts";

export function prometheusOptions(config: DaemonConfig, baseUrl: string): Parameters<typeof createPrometheusClient>[0] {
  const headers: Record<string, string> = {};
  for (const h of config.prometheusHeader) {
    const i = h.indexOf(":");
    headers[h.slice(0, i).trim()] = h.slice(i + 1).trim();
  }
  const user = config.prometheusBasicAuthUser;
  const passwordFile = config.prometheusBasicAuthPasswordFile;
  return {
    baseUrl,
    bearerTokenFile: config.prometheusBearerTokenFile,
    basicAuth: user !== undefined && passwordFile !== undefined ? { username: user, passwordFile } : undefined,
    caFile: config.prometheusCaFile,
    certFile: config.prometheusCertFile,
    keyFile: config.prometheusKeyFile,
    insecureSkipVerify: config.prometheusInsecureSkipVerify,
    headers,
    timeoutMs: config.prometheusTimeout,
  };
}

export function certificateSource(config: DaemonConfig): CertificateSource {
  if (config.webhookCertDir !== undefined) return { kind: "files", dir: config.webhookCertDir };
  const namespace = config.webhookNamespace ?? config.leaderElectionNamespace;
  const service = config.webhookService;
  return {
    kind: "selfManaged",
    namespace,
    secretName: config.webhookSecret,
    configurationName: config.webhookConfiguration,
    // The names the apiserver dials for a service reference, then any the user added (an IP for a url: clientConfig).
    hosts: [`${service}.${namespace}.svc`, `${service}.${namespace}.svc.cluster.local`, ...config.webhookCertHosts],
  };
}
