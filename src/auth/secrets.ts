/**
 * Credentials at rest: API tokens and session ids are long random values kept only as their
 * SHA-256; passwords as scrypt hashes with a per-user salt. Every comparison is constant-time.
 */
import { createHash, randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from "node:crypto";

/** Token prefix: recognisable in logs and by secret scanners (`swt_…`). */
export const TOKEN_PREFIX = "swt_";

export function newSecret(bytes = 32): string {
  return randomBytes(bytes).toString("base64url");
}

export function newToken(): string {
  return TOKEN_PREFIX + newSecret(32);
}

export function sha256(value: string): string {
  return createHash("sha256").update(value).digest("hex");
}

export function equalConstantTime(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  // Compare equal lengths only, but spend the same work either way.
  if (x.length !== y.length) {
    timingSafeEqual(x, x);
    return false;
  }
  return timingSafeEqual(x, y);
}

// N=2^15, r=8, p=1: ~50 ms and 32 MiB here (OWASP's scrypt minimum is N=2^17 with 1 parallel;
// N=2^15 keeps logins quick on small machines; the parameters are stored with each hash).
const PARAMS = { N: 2 ** 15, r: 8, p: 1 };
const KEYLEN = 32;

function derive(password: string, salt: Buffer, o: { N: number; r: number; p: number }): Promise<Buffer> {
  const opts: ScryptOptions = { N: o.N, r: o.r, p: o.p, maxmem: 256 * o.N * o.r + 1024 * 1024 };
  return new Promise((resolve, reject) =>
    scrypt(password.normalize("NFC"), salt, KEYLEN, opts, (e, key) => (e ? reject(e) : resolve(key))),
  );
}

/** `scrypt$N$r$p$salt$hash` (base64url salt and hash). */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, PARAMS);
  return ["scrypt", PARAMS.N, PARAMS.r, PARAMS.p, salt.toString("base64url"), key.toString("base64url")].join(
    "$",
  );
}

/** A hash that never matches, to spend the same time when the user does not exist. */
let decoy: Promise<string> | undefined;

export async function verifyPassword(password: string, stored: string | undefined): Promise<boolean> {
  const hash = stored ?? (await (decoy ??= hashPassword(newSecret())));
  const [kind, n, r, p, salt, key] = hash.split("$");
  if (kind !== "scrypt" || !salt || !key) return false;
  const expected = Buffer.from(key, "base64url");
  const got = await derive(password, Buffer.from(salt, "base64url"), {
    N: Number(n),
    r: Number(r),
    p: Number(p),
  });
  return got.length === expected.length && timingSafeEqual(got, expected) && stored !== undefined;
}

/** Password rules: long enough to matter, short enough not to be a denial of service. */
export function passwordProblem(password: string): string | undefined {
  if (password.length < 12) return "a password needs at least 12 characters";
  if (password.length > 1024) return "a password has at most 1024 characters";
  return undefined;
}
