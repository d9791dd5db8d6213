/** The archive putArchive receives for `secrets: { as: files }`, read back by a tar reader. */
import { describe, expect, it } from "vitest";
import { extract, type Header } from "tar-stream";
import { secretsTar } from "../../src/drivers/docker/secret-files.js";

async function entries(files: Record<string, string>, owner?: { uid?: number; gid?: number }) {
  const out: { header: Header; body: string }[] = [];
  const reader = extract();
  secretsTar(files, owner).pipe(reader);
  for await (const entry of reader) {
    const chunks: Buffer[] = [];
    for await (const c of entry) chunks.push(c as Buffer);
    out.push({ header: entry.header, body: Buffer.concat(chunks).toString("utf8") });
  }
  return out;
}

describe("secretsTar", () => {
  it("holds run/secrets/ and one read-only file per secret, owned as asked", async () => {
    const long = "x".repeat(1500);
    const got = await entries({ DB_PASSWORD: "pw ü", TOKEN: long }, { uid: 1000, gid: 1001 });
    expect(got.map((e) => [e.header.name, e.header.type, e.header.mode, e.header.uid, e.header.gid])).toEqual(
      [
        ["run/secrets/", "directory", 0o755, 1000, 1001],
        ["run/secrets/DB_PASSWORD", "file", 0o400, 1000, 1001],
        ["run/secrets/TOKEN", "file", 0o400, 1000, 1001],
      ],
    );
    expect(got[1].body).toBe("pw ü");
    expect(got[2].body).toBe(long);
  });

  it("defaults to root ownership", async () => {
    const [dir, file] = await entries({ A: "1" });
    expect([dir.header.uid, file.header.uid, file.header.gid]).toEqual([0, 0, 0]);
  });
});
