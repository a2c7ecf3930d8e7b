// The Host header as the waker keys services by it: lower-cased, port and trailing dot removed.
// Clients write it; everything not a DNS name is answered here, before it reaches the daemon.
import { isIP } from "node:net";
import { DNS_SUBDOMAIN } from "../api/names.ts";

export type HostParse =
  | { ok: true; host: string }
  /** 400: not a host name at all (missing, too long, control characters, junk). */
  | { ok: false; status: 400; message: string }
  /** 404: a well-formed address no InferenceService can have (an IP literal). */
  | { ok: false; status: 404; message: string };

/** Longer than a DNS name plus a port is not a host (Node already caps all headers at 16 KiB). */
const MAX_HOST_HEADER = 300;

export function parseHost(raw: string | string[] | undefined): HostParse {
  if (Array.isArray(raw)) return { ok: false, status: 400, message: "more than one Host header" };
  if (raw === undefined || raw.trim() === "") return { ok: false, status: 400, message: "the request has no Host header" };
  if (raw.length > MAX_HOST_HEADER)
    return { ok: false, status: 400, message: `the Host header is longer than ${MAX_HOST_HEADER} characters` };
  const text = raw.trim().toLowerCase();
  const ipv6 = /^\[([0-9a-f:.]+)\](?::\d{1,5})?$/.exec(text);
  if (ipv6 !== null) {
    return isIP(ipv6[1] as string) === 6
      ? { ok: false, status: 404, message: "an IP address is not the host of an InferenceService" }
      : { ok: false, status: 400, message: "the Host header is not a host name" };
  }
  const host = text.replace(/:\d{1,5}$/, "").replace(/\.$/, "");
  if (isIP(host) !== 0) return { ok: false, status: 404, message: "an IP address is not the host of an InferenceService" };
  if (!DNS_SUBDOMAIN.test(host)) return { ok: false, status: 400, message: "the Host header is not a host name" };
  return { ok: true, host };
}
