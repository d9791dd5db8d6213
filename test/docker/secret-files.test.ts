/**
 * `secrets: { as: files }` on the real engine, through the CLI: the secret values are files in the
 * container (/run/secrets/NAME, mode 0400, NAME_FILE set) and appear nowhere in `docker inspect`;
 * non-secret values stay plain env; the default (env) keeps the old behaviour.
 */
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureTestImages } from "../support/docker.js";
import { dockerStack } from "./stack.js";

const run = promisify(execFile);
const PASSWORD = `pw-${Math.random().toString(36).slice(2)}-secret`;
const TOKEN = `tok-${Math.random().toString(36).slice(2)}`;
const stack = dockerStack("secrets", { env: { DB_PASSWORD: PASSWORD } });
const { project, dir, cli } = stack;

const container = (svc: string) => `${project}-staging-${svc}-r1-0`;
async function containerOf(svc: string): Promise<string> {
  const { stdout } = await run("docker", [
    "ps",
    "-q",
    "--filter",
    `label=slipway.project=${project}`,
    "--filter",
    `label=slipway.service=${svc}`,
  ]);
  const id = stdout.trim();
  expect(id, `a running ${svc} container (${container(svc)})`).not.toBe("");
  return id;
}
const inContainer = async (id: string, cmd: string) =>
  (await run("docker", ["exec", id, "sh", "-c", cmd])).stdout.trim();

beforeAll(async () => {
  await ensureTestImages();
  writeFileSync(join(dir, "api.env"), `API_TOKEN=${TOKEN}\n`);
  stack.writeSpec(
    `services:
  db:
    image: slipway-test/busybox:latest
    command: ["sleep", "3600"]
    env: { DB_PASSWORD: "\${DB_PASSWORD:?}", DB_NAME: app }
    envFile: api.env
    secrets: { as: files }
  owned:
    image: slipway-test/busybox:latest
    command: ["sleep", "3600"]
    env: { DB_PASSWORD: "\${DB_PASSWORD:?}" }
    secrets: { as: files, uid: 1000, gid: 1000 }
  plain:
    image: slipway-test/busybox:latest
    command: ["sleep", "3600"]
    env: { DB_PASSWORD: "\${DB_PASSWORD:?}" }
`,
  );
  const d = await cli(["deploy", "staging", "--version", "v1", "--yes"]);
  expect(d.code, d.stderr).toBe(0);
  expect(d.stdout + d.stderr).not.toContain(PASSWORD);
}, 300_000);

afterAll(() => stack.teardown());

describe("secrets as files on the docker target", () => {
  it("docker inspect holds NAME_FILE, never the value; the file in the container holds it", async () => {
    const id = await containerOf("db");
    const { stdout: inspect } = await run("docker", ["inspect", id]);
    expect(inspect).not.toContain(PASSWORD);
    expect(inspect).not.toContain(TOKEN); // an env file's value is a secret too
    const env = (JSON.parse(inspect) as { Config: { Env: string[] } }[])[0]?.Config.Env ?? [];
    expect(env).toContain("DB_PASSWORD_FILE=/run/secrets/DB_PASSWORD");
    expect(env).toContain("API_TOKEN_FILE=/run/secrets/API_TOKEN");
    expect(env).toContain("DB_NAME=app"); // a literal is not a secret
    expect(env.some((e) => e.startsWith("DB_PASSWORD="))).toBe(false);
    expect(await inContainer(id, "cat /run/secrets/DB_PASSWORD")).toBe(PASSWORD);
    expect(await inContainer(id, 'cat "$API_TOKEN_FILE"')).toBe(TOKEN);
    expect(await inContainer(id, "stat -c '%a %u:%g' /run/secrets/DB_PASSWORD")).toBe("400 0:0");
  });

  it("secrets.uid/gid own the files (an image that runs as another user can read them)", async () => {
    const id = await containerOf("owned");
    expect(await inContainer(id, "stat -c '%a %u:%g' /run/secrets/DB_PASSWORD")).toBe("400 1000:1000");
  });

  it("without the option the value is a plain env variable (docker inspect shows it)", async () => {
    const id = await containerOf("plain");
    const { stdout } = await run("docker", ["inspect", "-f", "{{json .Config.Env}}", id]);
    expect(JSON.parse(stdout)).toContain(`DB_PASSWORD=${PASSWORD}`);
    expect(await inContainer(id, "ls /run/secrets 2>&1 || true")).toMatch(/No such file/);
  });
});
