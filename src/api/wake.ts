// The wake API between the waker and the daemon, one home for both ends: the daemon builds its answers
// as these types (src/daemon/wakeApi.ts), the waker parses them with these schemas
// (src/wake/daemonClient.ts), so the compiler and one schema check both sides. Words: docs/operations.md,
// "Wake API".
//   POST /wake/v1/requests, Authorization: Bearer <the waker's ServiceAccount token, audience
//   kserve-reclaimer-wake>, {"host": "<Host the client sent>"}
//   200 WakeAnswer; 404 (no wake-enabled service has the host), 400, 401, 403, 405, 413, 415, 503: ErrorBody.
import { z } from "zod";
import { DNS_LABEL } from "./names.ts";

export const WAKE_PATH = "/wake/v1/requests";
/** The request body is `{"host": ...}`: anything bigger is not one. */
export const MAX_WAKE_REQUEST_BYTES = 4096;
export const MAX_WAKE_HOST_CHARS = 300;

export const WakeRequest = z.object({ host: z.string().min(1).max(MAX_WAKE_HOST_CHARS) });
export type WakeRequest = z.infer<typeof WakeRequest>;

export const WAKE_STATES = ["Ready", "Starting", "Refused"] as const;
/** Ready: forward now. Starting: hold until Ready. Refused: this service is not woken (answer at once). */
export type WakeState = (typeof WAKE_STATES)[number];

/** The daemon's 200 answer. namespace and name go into the upstream URL: only DNS labels pass. */
export const WakeAnswer = z.object({
  namespace: z.string().regex(DNS_LABEL),
  name: z.string().regex(DNS_LABEL),
  state: z.enum(WAKE_STATES),
  timeoutSeconds: z.number().finite().positive().max(86_400).optional(),
  maxHeldRequests: z.number().int().positive().optional(),
  retryAfterSeconds: z.number().finite().nonnegative().max(86_400).optional(),
  message: z.string().max(2_000).optional(),
});
export type WakeAnswer = z.infer<typeof WakeAnswer>;

export const WakeErrorBody = z.object({ error: z.string().max(2_000) });
export type WakeErrorBody = z.infer<typeof WakeErrorBody>;

/** Every answer the daemon gives, by result: the label of kserve_reclaimer_wake_api_requests_total. */
export type WakeResult = WakeState | "NotFound" | "Invalid" | "Unauthorized" | "Forbidden" | "Unavailable" | "NotLeader";
