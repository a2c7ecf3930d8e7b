// What an apiserver call failed with, from whatever client-node threw: an ApiException (HTTP
// status + Status body, sometimes as a string) or a network error. Results, not exceptions, leave
// the act/ modules.
export type ApiFailure = {
  /** HTTP status, undefined for network errors. */
  code: number | undefined;
  /** Status reason (Conflict, NotFound, Forbidden, ...), when the apiserver sent one. */
  reason: string | undefined;
  message: string;
};

export function apiFailure(err: unknown): ApiFailure {
  const e = (typeof err === "object" && err !== null ? err : {}) as {
    code?: unknown;
    statusCode?: unknown;
    body?: unknown;
    message?: unknown;
  };
  const code = typeof e.code === "number" ? e.code : typeof e.statusCode === "number" ? e.statusCode : undefined;
  let body: unknown = e.body;
  if (typeof body === "string") {
    try {
      body = JSON.parse(body);
    } catch {
      // not JSON: keep as text
    }
  }
  const status = (typeof body === "object" && body !== null ? body : {}) as { reason?: unknown; message?: unknown };
  const reason = typeof status.reason === "string" ? status.reason : undefined;
  const fromBody =
    typeof status.message === "string" ? status.message : typeof body === "string" && body.length > 0 ? body.slice(0, 500) : undefined;
  const message = fromBody ?? (typeof e.message === "string" ? e.message : String(err));
  return { code, reason, message };
}
