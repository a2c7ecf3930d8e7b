// What `npm run demo` puts into the cluster: four GPU InferenceServices in namespace `demo` and two
// ServingSchedules whose times are shifted from "now", so that something happens within two minutes.
// Pure: `now` is an argument, and the result is plain objects (printed by the demo, applied as is).
//
//   llama (2 GPUs), mistral (1 GPU)  office-hours: a window open now that closes at `closeAt`
//                                    (the next whole minute at least 30 s ahead) and reopens a
//                                    minute later: Stopped by Schedule, then started again.
//   critical (1 GPU)                 selected by office-hours too, but `reclaimer.dev/exclude: "true"`:
//                                    hands off, it keeps running through the closed window.
//   embedder (1 GPU)                 idle-45s: no windows, only an idle policy; the simulator sends it
//                                    traffic for 30 s, then nothing, and 45 s later it is Stopped (Idle).
//                                    With wake.onRequest: a few seconds after the idle stop the demo's
//                                    client sends it a chat completion through the waker, which holds it
//                                    while the daemon starts the service, then forwards it.
import type { KubernetesObject } from "@kubernetes/client-node";
import { gpuInferenceService } from "../../test/support/kube.ts";

export const NAMESPACE = "demo";
export const IDLE_AFTER_S = 45;
export const TRAFFIC = { target: `${NAMESPACE}/embedder`, rps: 4, seconds: 30 };
/** The waker's namespace and ServiceAccount, as deploy/ installs them. */
export const WAKER = { namespace: "kserve-reclaimer", serviceAccount: "kserve-reclaimer-waker", audience: "kserve-reclaimer-wake" };
/** How long after the idle stop the demo's client calls the embedder. */
export const WAKE_CALL_DELAY_MS = 8_000;

export type DemoPlan = {
  /** When office-hours closes (Stopped, reason Schedule) and reopens (Running). */
  closeAt: number;
  reopenAt: number;
  /** When the office-hours window after the reopen closes again (beyond the demo). */
  secondCloseAt: number;
  services: KubernetesObject[];
  schedules: KubernetesObject[];
};

/** "HH:MM" in UTC of an instant. */
function hhmmUtc(ms: number): string {
  return new Date(ms).toISOString().slice(11, 16);
}

/** The next whole UTC minute at least `leadMs` after `now`. */
export function nextMinute(now: number, leadMs: number): number {
  let b = Math.ceil(now / 60_000) * 60_000;
  if (b - now < leadMs) b += 60_000;
  return b;
}

function isvc(name: string, gpus: number, labels: Record<string, string>, annotations: Record<string, string> = {}): KubernetesObject {
  return gpuInferenceService(NAMESPACE, name, {
    gpus,
    labels: { "app.kubernetes.io/part-of": "kserve-reclaimer-demo", ...labels },
    annotations,
    image: "registry.invalid/demo/model-server:1.0",
  });
}

function servingSchedule(name: string, spec: Record<string, unknown>): KubernetesObject {
  return {
    apiVersion: "reclaimer.dev/v1alpha1",
    kind: "ServingSchedule",
    metadata: { name, namespace: NAMESPACE },
    spec,
  } as KubernetesObject;
}

/** The demo's objects for a demo whose services are Ready at `now`; `leadMs` is the least time before the window closes. */
export function demoPlan(now: number, leadMs = 30_000): DemoPlan {
  const closeAt = nextMinute(now, leadMs);
  const reopenAt = closeAt + 60_000;
  const secondCloseAt = reopenAt + 60 * 60_000;
  return {
    closeAt,
    reopenAt,
    secondCloseAt,
    services: [
      isvc("llama", 2, { policy: "office-hours" }),
      isvc("mistral", 1, { policy: "office-hours" }),
      isvc("critical", 1, { policy: "office-hours" }, { "reclaimer.dev/exclude": "true" }),
      isvc("embedder", 1, { policy: "idle" }),
    ],
    schedules: [
      servingSchedule("office-hours", {
        selector: { matchLabels: { policy: "office-hours" } },
        timeZone: "UTC",
        uptime: [
          // Open since an hour before closeAt: the services are inside a Running period from the start
          // (a service created while its schedule says Stopped would be left up until the next transition).
          { days: "*", from: hhmmUtc(closeAt - 60 * 60_000), to: hhmmUtc(closeAt) },
          { days: "*", from: hhmmUtc(reopenAt), to: hhmmUtc(secondCloseAt) },
        ],
      }),
      servingSchedule("idle-45s", {
        selector: { matchLabels: { policy: "idle" } },
        idle: { after: `${IDLE_AFTER_S}s`, threshold: 0, metric: "kserve", whenMetricsUnavailable: "KeepRunning" },
        // once idle-stopped, the demo's client calls it through the waker: started, and answered
        wake: { onRequest: true, timeout: "2m", maxHeldRequests: 100 },
      }),
    ],
  };
}
