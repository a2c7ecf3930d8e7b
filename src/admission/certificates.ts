// The webhook's own small PKI, for installs without cert-manager: a CA and a serving certificate it
// signs. Keys come from node:crypto (native, fast); node-forge only writes the X.509 structures,
// which node:crypto cannot. Values in, values out: the Secret that keeps them is selfManagedCa.ts.
import { createPrivateKey, generateKeyPairSync, randomBytes, X509Certificate } from "node:crypto";
import { createRequire } from "node:module";
import { isIP } from "node:net";
import type Forge from "node-forge";

// Loaded on first use: only the self-managed CA issues certificates, and node-forge costs every
// other daemon ~10 MiB of memory.
let loaded: typeof Forge | undefined;
function forgeLib(): typeof Forge {
  loaded ??= createRequire(import.meta.url)("node-forge") as typeof Forge;
  return loaded;
}

const DAY_MS = 86_400_000;
export const CA_VALID_DAYS = 3_650;
export const SERVING_VALID_DAYS = 365;
/** Renewed this long before expiry, so a daemon that checks hourly (or restarts weekly) never serves an expired one. */
export const RENEW_BEFORE_DAYS = 30;

export type WebhookPki = { caCert: string; caKey: string; cert: string; key: string };

function rsaKeyPair(): { publicPem: string; privatePem: string } {
  const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  return {
    publicPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
    privatePem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
  };
}

function forgePrivateKey(pem: string): Forge.pki.rsa.PrivateKey {
  // forge reads PKCS#1 only; node:crypto converts whatever the Secret holds.
  const pkcs1 = createPrivateKey(pem).export({ type: "pkcs1", format: "pem" }).toString();
  return forgeLib().pki.privateKeyFromPem(pkcs1);
}

function serial(): string {
  // Positive (leading bit clear), 16 bytes: unique per certificate as RFC 5280 asks.
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return bytes.toString("hex");
}

function newCertificate(publicPem: string, subjectCn: string, now: number, days: number): Forge.pki.Certificate {
  const cert = forgeLib().pki.createCertificate();
  cert.publicKey = forgeLib().pki.publicKeyFromPem(publicPem);
  cert.serialNumber = serial();
  // An hour of slack for clocks that lag the one that signed.
  cert.validity.notBefore = new Date(now - 3_600_000);
  cert.validity.notAfter = new Date(now + days * DAY_MS);
  cert.setSubject([{ name: "commonName", value: subjectCn }]);
  return cert;
}

/** A new CA (10 years). */
export function issueCa(now: number): { caCert: string; caKey: string } {
  const keys = rsaKeyPair();
  const cert = newCertificate(keys.publicPem, "kserve-reclaimer webhook CA", now, CA_VALID_DAYS);
  cert.setIssuer(cert.subject.attributes);
  cert.setExtensions([
    { name: "basicConstraints", cA: true, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
    { name: "subjectKeyIdentifier" },
  ]);
  cert.sign(forgePrivateKey(keys.privatePem), forgeLib().md.sha256.create());
  return { caCert: forgeLib().pki.certificateToPem(cert), caKey: keys.privatePem };
}

/** A serving certificate for `hosts` (DNS names or IP addresses; the first is the subject), signed by the CA. */
export function issueServing(ca: { caCert: string; caKey: string }, hosts: readonly string[], now: number): { cert: string; key: string } {
  const first = hosts[0];
  if (first === undefined) throw new Error("a serving certificate needs at least one host");
  const keys = rsaKeyPair();
  const caCert = forgeLib().pki.certificateFromPem(ca.caCert);
  const cert = newCertificate(keys.publicPem, first, now, SERVING_VALID_DAYS);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: "basicConstraints", cA: false, critical: true },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
    { name: "extKeyUsage", serverAuth: true },
    { name: "subjectAltName", altNames: hosts.map((h) => (isIP(h) ? { type: 7, ip: h } : { type: 2, value: h })) },
  ]);
  cert.sign(forgePrivateKey(ca.caKey), forgeLib().md.sha256.create());
  return { cert: forgeLib().pki.certificateToPem(cert), key: keys.privatePem };
}

/**
 * What has to be (re)issued for `pki` to serve `hosts` at `now`: nothing, the serving certificate,
 * or everything (no usable CA). Anything unreadable counts as missing, so a damaged Secret heals.
 */
export function renewalNeeded(pki: Partial<WebhookPki>, hosts: readonly string[], now: number): "none" | "serving" | "all" {
  const renewAt = (c: X509Certificate) => Date.parse(c.validTo) - RENEW_BEFORE_DAYS * DAY_MS;
  let ca: X509Certificate;
  try {
    if (pki.caCert === undefined || pki.caKey === undefined) return "all";
    ca = new X509Certificate(pki.caCert);
    if (!ca.ca || !ca.checkPrivateKey(createPrivateKey(pki.caKey)) || now >= renewAt(ca)) return "all";
  } catch {
    return "all";
  }
  try {
    if (pki.cert === undefined || pki.key === undefined) return "serving";
    const serving = new X509Certificate(pki.cert);
    if (!serving.checkIssued(ca) || !serving.verify(ca.publicKey)) return "serving";
    if (!serving.checkPrivateKey(createPrivateKey(pki.key))) return "serving";
    if (now >= renewAt(serving) || now < Date.parse(serving.validFrom)) return "serving";
    for (const h of hosts) if ((isIP(h) ? serving.checkIP(h) : serving.checkHost(h, { wildcards: false })) === undefined) return "serving";
    return "none";
  } catch {
    return "serving";
  }
}

/** `pki` renewed as far as needed for `hosts` at `now`, or the same object when nothing was due. */
export function renewed(pki: Partial<WebhookPki>, hosts: readonly string[], now: number): WebhookPki {
  const need = renewalNeeded(pki, hosts, now);
  if (need === "none") return pki as WebhookPki;
  const ca = need === "all" ? issueCa(now) : { caCert: pki.caCert as string, caKey: pki.caKey as string };
  return { ...ca, ...issueServing(ca, hosts, now) };
}
