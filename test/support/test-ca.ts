/** A throw-away certificate authority made with the openssl CLI, and leaf certificates it signs. */
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface TestCa {
  dir: string;
  /** PEM of the CA certificate (trust it with `ca:` or NODE_EXTRA_CA_CERTS). */
  pem: string;
  /** Issue a leaf for `domains` into NAME.pem / NAME.key (EC P-256); returns the paths. */
  issue(name: string, domains: string[], days?: number): { cert: string; key: string };
}

const ssl = (args: string[]) => execFileSync("openssl", args, { stdio: ["ignore", "pipe", "pipe"] });

export function makeTestCa(dir: string): TestCa {
  const caKey = join(dir, "ca.key");
  const caPem = join(dir, "ca.pem");
  ssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", caKey]);
  ssl([
    "req",
    "-x509",
    "-new",
    "-key",
    caKey,
    "-sha256",
    "-days",
    "2",
    "-subj",
    "/CN=Slipway Test CA",
    "-out",
    caPem,
  ]);
  return {
    dir,
    pem: readFileSync(caPem, "utf8"),
    issue(name, domains, days = 30) {
      const key = join(dir, `${name}.key`);
      const csr = join(dir, `${name}.csr`);
      const cert = join(dir, `${name}.pem`);
      const ext = join(dir, `${name}.ext`);
      writeFileSync(ext, `subjectAltName=${domains.map((d) => `DNS:${d}`).join(",")}\n`);
      ssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key]);
      ssl(["req", "-new", "-key", key, "-subj", `/CN=${domains[0]}`, "-out", csr]);
      ssl([
        "x509",
        "-req",
        "-in",
        csr,
        "-CA",
        caPem,
        "-CAkey",
        caKey,
        "-CAcreateserial",
        "-days",
        String(days),
        "-sha256",
        "-extfile",
        ext,
        "-out",
        cert,
      ]);
      return { cert, key };
    },
  };
}
