// Names as Kubernetes and DNS spell them (RFC 1123), one check for every input that becomes a name:
// flags, KServe's settings, hosts a client sends, the daemon's answers to the waker.

/** A DNS label: a namespace, an InferenceService, a Service; 1-63 of a-z, 0-9 and "-", alphanumeric at both ends. */
export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** A DNS subdomain: labels joined by ".", at most 253 characters (most object names, host names). */
export const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$/;

export function isDnsLabel(text: string): boolean {
  return DNS_LABEL.test(text);
}

export function isDnsSubdomain(text: string): boolean {
  return DNS_SUBDOMAIN.test(text);
}
