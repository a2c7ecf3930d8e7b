// Throw-away PKI for the local control plane, generated per cluster with the
// openssl CLI (node:crypto cannot issue X.509 certificates). Nothing is committed.
import { execFileSync } from "node:child_process";
import { writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";

export type KeyPair = { cert: string; key: string };

export type Pki = {
  dir: string;
  ca: KeyPair;
  /** kube-apiserver serving certificate (127.0.0.1, localhost, the service IP). */
  apiserver: KeyPair;
  /** Admin client certificate: CN=kserve-reclaimer-admin, O=system:masters. */
  admin: KeyPair;
  /** KServe webhook serving certificate (127.0.0.1). */
  webhook: KeyPair;
  /** Service account token signing key pair. */
  serviceAccount: { publicKey: string; privateKey: string };
};

function openssl(args: string[]): void {
  try {
    execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString() ?? "";
    throw new Error(`openssl ${args[0]} failed: ${stderr.trim()}`, { cause: err });
  }
}

function issue(dir: string, ca: KeyPair, name: string, subject: string, extensions: string[]): KeyPair {
  const pair = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, `${extensions.join("\n")}\n`);
  openssl([
    "req",
    "-new",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    pair.key,
    "-out",
    csr,
    "-subj",
    subject,
  ]);
  openssl([
    "x509",
    "-req",
    "-in",
    csr,
    "-CA",
    ca.cert,
    "-CAkey",
    ca.key,
    "-set_serial",
    String(Date.now()) + String(Math.floor(Math.random() * 1000)),
    "-days",
    "7",
    "-sha256",
    "-extfile",
    ext,
    "-out",
    pair.cert,
  ]);
  return pair;
}

export function generatePki(dir: string): Pki {
  mkdirSync(dir, { recursive: true });
  const ca = { cert: join(dir, "ca.crt"), key: join(dir, "ca.key") };
  openssl([
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    ca.key,
    "-out",
    ca.cert,
    "-days",
    "7",
    "-sha256",
    "-subj",
    "/CN=kserve-reclaimer-test-ca",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
  ]);
  const server = (sans: string) => [
    "basicConstraints=CA:FALSE",
    "keyUsage=critical,digitalSignature,keyEncipherment",
    "extendedKeyUsage=serverAuth",
    `subjectAltName=${sans}`,
  ];
  const apiserver = issue(
    dir,
    ca,
    "apiserver",
    "/CN=kube-apiserver",
    server("IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc"),
  );
  const webhook = issue(dir, ca, "webhook", "/CN=kserve-webhook-server", server("IP:127.0.0.1,DNS:localhost"));
  const admin = issue(dir, ca, "admin", "/O=system:masters/CN=kserve-reclaimer-admin", [
    "basicConstraints=CA:FALSE",
    "keyUsage=critical,digitalSignature,keyEncipherment",
    "extendedKeyUsage=clientAuth",
  ]);
  const serviceAccount = { privateKey: join(dir, "sa.key"), publicKey: join(dir, "sa.pub") };
  openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", serviceAccount.privateKey]);
  openssl(["pkey", "-in", serviceAccount.privateKey, "-pubout", "-out", serviceAccount.publicKey]);
  return { dir, ca, apiserver, admin, webhook, serviceAccount };
}
