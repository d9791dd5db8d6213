/**
 * nginx as the benches run it: Debian's package, a keep-alive upstream pool, no access log, its
 * files in a directory of its own — the reverse proxy a user would pick instead of Slipway's.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface NginxServer {
  port: number;
  /** Terminate TLS with this certificate (PEM files). */
  tls?: { cert: string; key: string };
}

/** The headers kamal-proxy and Slipway set, on a keep-alive upstream connection. */
const LOCATION = `    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $host;
    }`;

/** Writes the configuration into `dir` and starts nginx in the foreground (stop: SIGQUIT). */
export function startNginx(
  dir: string,
  opts: { upstreamPort: number; servers: NginxServer[]; workers?: number },
): ChildProcess {
  mkdirSync(dir, { recursive: true });
  const servers = opts.servers.map((s) =>
    s.tls
      ? `  server {
    listen 127.0.0.1:${s.port} ssl;
    ssl_certificate ${s.tls.cert};
    ssl_certificate_key ${s.tls.key};
    ssl_protocols TLSv1.2 TLSv1.3;
${LOCATION}
  }`
      : `  server {
    listen 127.0.0.1:${s.port};
${LOCATION}
  }`,
  );
  writeFileSync(
    join(dir, "nginx.conf"),
    `worker_processes ${opts.workers ?? 1};
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  upstream app { server 127.0.0.1:${opts.upstreamPort}; keepalive 64; }
${servers.join("\n")}
}`,
  );
  return spawn("nginx", ["-p", dir, "-c", join(dir, "nginx.conf"), "-g", "daemon off;"], {
    stdio: ["ignore", "ignore", "inherit"],
  });
}
