import { describe, expect, it } from "vitest";
import { makeRedactor, redactError, redactorOf } from "./redact.js";

describe("the one redactor", () => {
  it("hides long values anywhere and short ones only where a secret sits", () => {
    const r = redactorOf({
      secrets: new Map([
        ["TOKEN", "s3cr3t-value"],
        ["PW", "k9Z"],
        ["ONE", "1"],
      ]),
    });
    expect(r("token s3cr3t-value used; 1 row")).toBe("token *** used; 1 row");
    expect(r("PW=k9Z next")).toBe("PW=*** next");
    expect(r("redis://:k9Z@db:6379")).toBe("redis://:***@db:6379");
    expect(r("https://h/x?password=k9Z&a=b")).toBe("https://h/x?password=***&a=b");
    expect(r("k9Z alone is a word")).toBe("k9Z alone is a word");
  });

  it("hides any URL password and password-like query parameter, known or not", () => {
    const r = makeRedactor([]);
    expect(r("postgres://app:whatever@db:5432/x")).toBe("postgres://app:***@db:5432/x");
    expect(r("http://h/?token=abc&x=1")).toBe("http://h/?token=***&x=1");
  });

  it("hides the JSON-escaped form of a value", () => {
    const r = makeRedactor(['pa"ss\\word']);
    expect(r(JSON.stringify({ v: 'x pa"ss\\word y' }))).toBe('{"v":"x *** y"}');
  });

  it("redacts an error in place: same object, message and details", () => {
    const e = Object.assign(new Error("boom s3cr3t-value"), { details: { out: ["s3cr3t-value"] } });
    expect(redactError(e, makeRedactor(["s3cr3t-value"]))).toBe(e);
    expect(e.message).toBe("boom ***");
    expect(e.details.out).toEqual(["***"]);
  });
});

describe("plain configuration words", () => {
  it("are not hidden even when an env file gives them (NODE_ENV=development)", () => {
    const r = makeRedactor(["development", "warning", "s3cret-value"]);
    expect(r("release /srv/releases/development/api with .env.development, 1 warning(s)")).toBe(
      "release /srv/releases/development/api with .env.development, 1 warning(s)",
    );
    expect(r("DB_PASSWORD=s3cret-value")).toBe("DB_PASSWORD=***");
  });
});
