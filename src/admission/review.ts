// The admission decision for one AdmissionReview: the same validateServingSchedule that `validate`
// and the daemon use, so a schedule is refused at `kubectl apply` with the words `validate` prints.
// Pure: a parsed request body in, the response body out.
import { isDeepStrictEqual } from "node:util";
import { validateServingSchedule, type Problem } from "../api/validate.ts";
import { CLUSTER_KIND, GROUP, KIND } from "../api/servingSchedule.ts";

export const ADMISSION_API_VERSION = "admission.k8s.io/v1";

/** kubectl prints each warning on its own line; the apiserver shortens them only past 4 KiB in all, so validate's full text fits. */
const MAX_WARNINGS = 10;
const MAX_WARNING_CHARS = 1_024;
/** A denial message longer than this is cut: the apiserver and terminals cope badly with megabytes of text. */
const MAX_MESSAGE_CHARS = 4_096;

export type AdmissionResponse = {
  uid: string;
  allowed: boolean;
  status?: { code: number; message: string; reason?: string };
  warnings?: string[];
};

export type AdmissionReviewOut = { apiVersion: string; kind: "AdmissionReview"; response: AdmissionResponse };

/** Why a body is not an AdmissionReview we can answer (the HTTP layer turns it into a 400). */
export class BadReview extends Error {
  override readonly name = "BadReview";
}

type Request = {
  uid: string;
  operation: string;
  kind: { group: string; kind: string };
  object: unknown;
  oldObject: unknown;
};

function readRequest(body: unknown): Request {
  if (typeof body !== "object" || body === null) throw new BadReview("body is not a JSON object");
  const review = body as Record<string, unknown>;
  if (review["kind"] !== "AdmissionReview" || review["apiVersion"] !== ADMISSION_API_VERSION)
    throw new BadReview(`expected an ${ADMISSION_API_VERSION} AdmissionReview`);
  const request = review["request"];
  if (typeof request !== "object" || request === null) throw new BadReview("AdmissionReview has no request");
  const r = request as Record<string, unknown>;
  // The apiserver's uids are UUIDs; anything else is not from it, and it is echoed back, so keep it short.
  if (typeof r["uid"] !== "string" || r["uid"] === "" || r["uid"].length > 128) throw new BadReview("request.uid is missing or too long");
  const kind = r["kind"] as Record<string, unknown> | undefined;
  return {
    uid: r["uid"],
    operation: typeof r["operation"] === "string" ? r["operation"] : "",
    kind: { group: typeof kind?.["group"] === "string" ? kind["group"] : "", kind: typeof kind?.["kind"] === "string" ? kind["kind"] : "" },
    object: r["object"],
    oldObject: r["oldObject"],
  };
}

const line = (p: Problem) => `${p.path || "-"}: ${p.message}`;

function cut(text: string, max: number): string {
  // ASCII: warnings travel in an HTTP header, which some clients decode as latin1.
  return text.length <= max ? text : `${text.slice(0, max - 3)}...`;
}

function specOf(obj: unknown): unknown {
  return typeof obj === "object" && obj !== null ? (obj as Record<string, unknown>)["spec"] : undefined;
}

/**
 * The response to one AdmissionReview (already parsed JSON). Throws BadReview when the body is not
 * one. `now` (epoch ms) only feeds validate's "this exception is over" warnings.
 */
export function reviewServingSchedule(body: unknown, now: number): AdmissionReviewOut {
  const request = readRequest(body);
  const respond = (response: Omit<AdmissionResponse, "uid">): AdmissionReviewOut => ({
    apiVersion: ADMISSION_API_VERSION,
    kind: "AdmissionReview",
    response: { uid: request.uid, ...response },
  });
  // Only what this webhook is for; a misconfigured rule must not turn it into a gate for other kinds.
  if (request.kind.group !== GROUP || (request.kind.kind !== KIND && request.kind.kind !== CLUSTER_KIND)) return respond({ allowed: true });
  if (request.operation !== "CREATE" && request.operation !== "UPDATE") return respond({ allowed: true });
  const result = validateServingSchedule(request.object, now);
  if (!result.ok) {
    // An object that was already invalid (applied before the webhook existed) can still get labels,
    // finalizers removed or be deleted: only a changed spec is judged.
    if (request.operation === "UPDATE" && isDeepStrictEqual(specOf(request.object), specOf(request.oldObject))) {
      return respond({
        allowed: true,
        warnings: [cut(`this ${request.kind.kind} is invalid; run kserve-reclaimer validate on it`, MAX_WARNING_CHARS)],
      });
    }
    return respond({
      allowed: false,
      status: { code: 422, reason: "Invalid", message: cut(result.problems.map(line).join("\n"), MAX_MESSAGE_CHARS) },
    });
  }
  const warnings = result.warnings
    .slice(0, MAX_WARNINGS)
    .map((w) => cut(line({ ...w, message: w.message.replace(/^warning: /, "") }), MAX_WARNING_CHARS));
  return respond(warnings.length > 0 ? { allowed: true, warnings } : { allowed: true });
}
