/**
 * An OCI registry DOUBLE for tests (no registry is reachable from these machines): a loopback HTTP
 * server answering only what digest resolution asks — `HEAD /v2/<name>/manifests/<tag>` with a
 * `Docker-Content-Digest` header, 404 for unknown tags, and, for repositories marked private, the
 * anonymous Bearer token dance (401 + `WWW-Authenticate`, `GET /token`); for repositories that need a
 * login, Basic auth (`basicRepos`) or a Bearer token the token endpoint gives only to a login
 * (`loginRepos`, Docker's token auth). No blobs, no pushes.
 */
import { createHash } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export class RegistryDouble {
  /** `<repository>:<tag>` → digest. */
  readonly tags = new Map<string, string>();
  readonly privateRepos = new Set<string>();
  /** Repositories whose requests are never answered (timeouts). */
  readonly silent = new Set<string>();
  readonly requests: string[] = [];
  /** Accepted logins: user → password. */
  readonly logins = new Map<string, string>();
  /** Repositories that demand `Authorization: Basic` with a login. */
  readonly basicRepos = new Set<string>();
  /** Repositories that demand a Bearer token that /token gives only with a login (Basic). */
  readonly loginRepos = new Set<string>();
  host = "";
  private server?: Server;

  /** Point a tag at a new digest (made from `content`); returns the digest. */
  tag(repository: string, tag: string, content: string): string {
    const digest = `sha256:${createHash("sha256").update(content).digest("hex")}`;
    this.tags.set(`${repository}:${tag}`, digest);
    return digest;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://x");
      this.requests.push(`${req.method} ${url.pathname}`);
      if (url.pathname === "/token") {
        const scope = url.searchParams.get("scope") ?? "";
        const needsLogin = this.loginRepos.has(scope.split(":")[1] ?? "");
        if (needsLogin && !this.loggedIn(req.headers.authorization)) {
          res.writeHead(401).end();
          return;
        }
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ token: `${needsLogin ? "user" : "anon"}-${scope}` }));
        return;
      }
      const m = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(url.pathname);
      if (!m || req.method !== "HEAD") {
        res.writeHead(404).end();
        return;
      }
      const [, repo, tag] = m;
      if (this.silent.has(repo)) return; // never answers
      const scope = `repository:${repo}:pull`;
      if (this.privateRepos.has(repo) && req.headers.authorization !== `Bearer anon-${scope}`) {
        res.writeHead(401, {
          "www-authenticate": `Bearer realm="http://${this.host}/token",service="double",scope="${scope}"`,
        });
        res.end();
        return;
      }
      if (this.basicRepos.has(repo) && !this.loggedIn(req.headers.authorization)) {
        res.writeHead(401, { "www-authenticate": 'Basic realm="double"' }).end();
        return;
      }
      if (this.loginRepos.has(repo) && req.headers.authorization !== `Bearer user-${scope}`) {
        res.writeHead(401, {
          "www-authenticate": `Bearer realm="http://${this.host}/token",service="double",scope="${scope}"`,
        });
        res.end();
        return;
      }
      const digest = this.tags.get(`${repo}:${tag}`);
      if (!digest) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, {
        "docker-content-digest": digest,
        "content-type": "application/vnd.oci.image.manifest.v1+json",
      });
      res.end();
    });
    await new Promise<void>((r) => this.server?.listen(0, "127.0.0.1", r));
    this.host = `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  private loggedIn(header: string | undefined): boolean {
    if (!header?.startsWith("Basic ")) return false;
    const [user, ...rest] = Buffer.from(header.slice(6), "base64").toString("utf8").split(":");
    return this.logins.get(user ?? "") === rest.join(":");
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}
