// The admission webhook's lifecycle: get a certificate (files from cert-manager, or the
// self-managed CA's Secret), serve with it, keep it fresh. A webhook that cannot get a certificate
// or reach its configuration is logged and retried; it never stops the daemon's schedules, and the
// apiserver's failurePolicy (Ignore) admits what it cannot review meanwhile.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { X509Certificate } from "node:crypto";
import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger, Timers } from "../sources/kube/runtime.ts";
import type { ReclaimerMetrics } from "../report/metrics.ts";
import { reviewServingSchedule } from "./review.ts";
import { startWebhookServer, type WebhookServer } from "./server.ts";
import { SelfManagedCa } from "./selfManagedCa.ts";

/** cert-manager rewrites the mounted files on renewal; the kubelet takes up to a minute to show them. */
const FILE_POLL_MS = 60_000;
/** Picks up a renewal by another replica, and renews this one's well before the 30 days run out. */
const SECRET_RECHECK_MS = 3_600_000;
const RETRY_MS = 15_000;
/** A certificate file larger than this is not one. */
const MAX_PEM_BYTES = 1024 * 1024;

export type CertificateSource =
  | { kind: "files"; dir: string }
  | { kind: "selfManaged"; namespace: string; secretName: string; configurationName: string; hosts: string[] };

export type AdmissionWebhookOptions = {
  host: string;
  port: number;
  source: CertificateSource;
  kubeConfig: KubeConfig;
  log: Logger;
  metrics: ReclaimerMetrics;
  timers: Timers;
};

export type AdmissionWebhook = { close(): Promise<void>; readonly port: number | undefined };

async function readPem(path: string): Promise<string> {
  const text = await readFile(path, "utf8");
  if (text.length > MAX_PEM_BYTES) throw new Error(`${path} is over ${MAX_PEM_BYTES} bytes`);
  return text;
}

type Certificate = { cert: string; key: string };

export async function startAdmissionWebhook(opts: AdmissionWebhookOptions): Promise<AdmissionWebhook> {
  const { log, metrics, timers, source } = opts;
  const ca = source.kind === "selfManaged" ? new SelfManagedCa({ kubeConfig: opts.kubeConfig, ...source }) : undefined;
  let server: WebhookServer | undefined;
  let served: Certificate | undefined;
  let injected: string | undefined;
  let timer: unknown;
  let closed = false;
  let lastProblem: string | undefined;

  const fetchCertificate = async (): Promise<Certificate & { caCert?: string }> => {
    if (source.kind === "files") {
      return { cert: await readPem(join(source.dir, "tls.crt")), key: await readPem(join(source.dir, "tls.key")) };
    }
    const pki = await (ca as SelfManagedCa).certificates(timers.now());
    return { cert: pki.cert, key: pki.key, caCert: pki.caCert };
  };

  const problem = (message: string) => {
    // One line per distinct problem, not one per retry.
    if (message !== lastProblem) log.warn("admission webhook: will retry", { problem: message, retryInSeconds: RETRY_MS / 1000 });
    lastProblem = message;
  };

  /** One round: certificate, server, caBundle. Returns when the next round is due. */
  const round = async (): Promise<number> => {
    const certificate = await fetchCertificate();
    if (served?.cert !== certificate.cert || served.key !== certificate.key) {
      if (server === undefined) {
        server = await startWebhookServer({
          host: opts.host,
          port: opts.port,
          certificate,
          review: (body) => reviewServingSchedule(body, timers.now()),
          counted: (kind, result) => metrics.admissionReview(kind, result),
        });
        log.info("serving the admission webhook", { address: server.address, port: server.port, certificates: source.kind });
      } else {
        server.setCertificate(certificate);
        log.info("admission webhook certificate renewed", { certificates: source.kind });
      }
      served = { cert: certificate.cert, key: certificate.key };
      metrics.webhookCertificateExpires(Date.parse(new X509Certificate(certificate.cert).validTo));
    }
    if (ca !== undefined && certificate.caCert !== undefined && injected !== certificate.caCert) {
      const changed = await ca.injectCaBundle(certificate.caCert);
      if (changed > 0) log.info("admission webhook CA written to the configuration", { webhooks: changed });
      injected = certificate.caCert;
    }
    if (lastProblem !== undefined) log.info("admission webhook: recovered", {});
    lastProblem = undefined;
    return source.kind === "files" ? FILE_POLL_MS : SECRET_RECHECK_MS;
  };

  const loop = () => {
    round().then(
      (next) => schedule(next),
      (err: unknown) => {
        problem(err instanceof Error ? err.message : String(err));
        schedule(RETRY_MS);
      },
    );
  };
  const schedule = (ms: number) => {
    if (!closed) timer = timers.setTimeout(loop, ms);
  };

  // The first round runs before the daemon reports itself started, so a port already in use is a
  // start-up error like --metrics-addr's; a certificate not there yet is only retried.
  try {
    schedule(await round());
  } catch (err) {
    if ((err as Error).name === "ListenError") throw err;
    problem(err instanceof Error ? err.message : String(err));
    schedule(RETRY_MS);
  }

  return {
    get port() {
      return server?.port;
    },
    close: async () => {
      closed = true;
      timers.clearTimeout(timer);
      await server?.close();
    },
  };
}
