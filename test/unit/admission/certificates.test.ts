// The self-managed PKI: what it issues verifies as a CA and a serving certificate for exactly the
// hosts asked, and renewal is due when it should be (expiry near, a host missing, a damaged Secret).
import { test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import {
  issueCa,
  issueServing,
  renewalNeeded,
  renewed,
  RENEW_BEFORE_DAYS,
  SERVING_VALID_DAYS,
} from "../../../src/admission/certificates.ts";

const NOW = Date.UTC(2026, 10, 30, 12);
const DAY = 86_400_000;
const HOSTS = ["kserve-reclaimer-webhook.kserve-reclaimer.svc", "kserve-reclaimer-webhook.kserve-reclaimer.svc.cluster.local", "127.0.0.1"];

const ca = issueCa(NOW);
const serving = issueServing(ca, HOSTS, NOW);

test("the CA is a CA; the serving certificate is signed by it, for its hosts and IPs only, for serving", () => {
  const caX = new X509Certificate(ca.caCert);
  const sX = new X509Certificate(serving.cert);
  assert.equal(caX.ca, true);
  assert.equal(sX.ca, false);
  assert.ok(sX.checkIssued(caX));
  assert.ok(sX.verify(caX.publicKey));
  assert.equal(sX.checkHost(HOSTS[0] as string), HOSTS[0]);
  assert.equal(sX.checkHost(HOSTS[1] as string), HOSTS[1]);
  assert.equal(sX.checkIP("127.0.0.1"), "127.0.0.1");
  assert.equal(sX.checkHost("evil.example.com"), undefined);
  assert.equal(sX.checkIP("10.0.0.1"), undefined);
  assert.ok(sX.keyUsage?.includes("1.3.6.1.5.5.7.3.1"), "extended key usage serverAuth");
  const days = (Date.parse(sX.validTo) - NOW) / DAY;
  assert.ok(Math.abs(days - SERVING_VALID_DAYS) < 1, String(days));
  assert.notEqual(new X509Certificate(issueServing(ca, HOSTS, NOW).cert).serialNumber, sX.serialNumber);
});

test("renewal: none when fresh, the serving certificate near its expiry or for new hosts, everything when the CA is unusable", () => {
  const pki = { ...ca, ...serving };
  assert.equal(renewalNeeded(pki, HOSTS, NOW), "none");
  assert.equal(renewalNeeded(pki, HOSTS.slice(0, 1), NOW), "none", "a subset of the hosts is still served");
  assert.equal(renewalNeeded(pki, [...HOSTS, "other.ns.svc"], NOW), "serving");
  assert.equal(renewalNeeded(pki, HOSTS, NOW + (SERVING_VALID_DAYS - RENEW_BEFORE_DAYS - 1) * DAY), "none");
  assert.equal(renewalNeeded(pki, HOSTS, NOW + (SERVING_VALID_DAYS - RENEW_BEFORE_DAYS + 1) * DAY), "serving");
  assert.equal(renewalNeeded({ ...pki, cert: "garbage" }, HOSTS, NOW), "serving");
  assert.equal(renewalNeeded({ ...pki, key: issueServing(ca, HOSTS, NOW).key }, HOSTS, NOW), "serving", "key of another certificate");
  const other = issueCa(NOW);
  assert.equal(renewalNeeded({ ...other, cert: pki.cert, key: pki.key }, HOSTS, NOW), "serving", "signed by another CA");
  assert.equal(renewalNeeded({}, HOSTS, NOW), "all");
  assert.equal(renewalNeeded({ ...pki, caCert: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n" }, HOSTS, NOW), "all");
  assert.equal(renewalNeeded({ ...pki, caKey: other.caKey }, HOSTS, NOW), "all", "CA key does not match");
  assert.equal(renewalNeeded({ ...pki, caCert: pki.cert, caKey: pki.key }, HOSTS, NOW), "all", "a leaf is not a CA");
});

test("renewed keeps the CA when only the serving certificate is due, and returns the same object when nothing is", () => {
  const pki = { ...ca, ...serving };
  assert.equal(renewed(pki, HOSTS, NOW), pki);
  const more = renewed(pki, [...HOSTS, "extra.ns.svc"], NOW);
  assert.equal(more.caCert, ca.caCert);
  assert.equal(more.caKey, ca.caKey);
  assert.notEqual(more.cert, serving.cert);
  assert.equal(renewalNeeded(more, [...HOSTS, "extra.ns.svc"], NOW), "none");
  const fresh = renewed({ cert: serving.cert }, HOSTS, NOW);
  assert.notEqual(fresh.caCert, ca.caCert);
  assert.equal(renewalNeeded(fresh, HOSTS, NOW), "none");
});
