/**
 * `pods/NAME/exec` of the Kubernetes API server DOUBLE over WebSocket, in the channel protocol the
 * API server speaks (v4.channel.k8s.io / v5.channel.k8s.io: one leading byte per message, 1 stdout,
 * 2 stderr, 3 the final Status with the exit code). No container exists: a pod whose behaviour has
 * `shell: true` runs the command with the host's /bin/sh and the container's env (see
 * kube-double-pods.ts); any other pod answers with a Failure status saying so.
 */
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer, type WebSocket } from "ws";
import type { Container, DoublePods } from "./kube-double-pods.js";
import type { DoubleStore } from "./kube-double-store.js";

export class DoubleExec {
  private readonly wss = new WebSocketServer({
    noServer: true,
    handleProtocols: (ps) => (ps.has("v4.channel.k8s.io") ? "v4.channel.k8s.io" : ([...ps][0] ?? false)),
  });

  constructor(
    private readonly store: DoubleStore,
    private readonly pods: DoublePods,
  ) {}

  close(): void {
    for (const c of this.wss.clients) c.terminate();
    this.wss.close();
  }

  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? "/", "http://double");
    const m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/exec$/.exec(url.pathname);
    if (!m) {
      socket.end("HTTP/1.1 404 Not Found\r\n\r\n");
      return;
    }
    this.wss.handleUpgrade(
      req,
      socket,
      head,
      (ws) => void this.run(ws, m[1] as string, m[2] as string, url.searchParams),
    );
  }

  private async run(ws: WebSocket, ns: string, name: string, q: URLSearchParams): Promise<void> {
    const status = (s: object) => {
      ws.send(Buffer.concat([Buffer.from([3]), Buffer.from(JSON.stringify({ metadata: {}, ...s }))]));
      ws.close(1000);
    };
    const pod = this.store.get("/pods", ns, name);
    const containers = (pod?.spec as { containers?: Container[] } | undefined)?.containers ?? [];
    const c = containers.find((x) => x.name === q.get("container")) ?? containers[0];
    if (!pod || !c)
      return status({
        status: "Failure",
        reason: "NotFound",
        code: 404,
        message: `pods "${name}" not found`,
      });
    if ((pod.status as { phase?: string })?.phase !== "Running")
      return status({
        status: "Failure",
        reason: "BadRequest",
        code: 400,
        message: `pod ${name} is not running`,
      });
    if (!this.pods.behaviourOf(c, ns).shell)
      return status({
        status: "Failure",
        reason: "InternalError",
        code: 500,
        message: `the API server double runs no containers (give pods of ${c.image} the "shell" behaviour to run exec commands on the host)`,
      });
    const code = await this.pods.run(pod, c, q.getAll("command"), (s, stream) =>
      ws.send(Buffer.concat([Buffer.from([stream]), Buffer.from(s)])),
    );
    if (code === 0) return status({ status: "Success" });
    status({
      status: "Failure",
      reason: "NonZeroExitCode",
      message: `command terminated with non-zero exit code: error executing command [${q.getAll("command").join(" ")}], exit code ${code}`,
      details: { causes: [{ reason: "ExitCode", message: String(code) }] },
    });
  }
}
