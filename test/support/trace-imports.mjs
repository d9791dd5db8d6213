// Records every module the process loads (ESM resolve hook) and prints the list at exit to the
// file named by TRACE_IMPORTS_OUT. Used by the start-up weight test.
import { register } from "node:module";
import { appendFileSync } from "node:fs";
import { MessageChannel } from "node:worker_threads";

const out = process.env.TRACE_IMPORTS_OUT;
const { port1, port2 } = new MessageChannel();
port1.on("message", (url) => out && appendFileSync(out, url + "\n"));
port1.unref();
register(
  "data:text/javascript," +
    encodeURIComponent(`
let port;
export function initialize(data) { port = data.port; }
export async function resolve(spec, ctx, next) {
  const r = await next(spec, ctx);
  port.postMessage(r.url);
  return r;
}`),
  { data: { port: port2 }, transferList: [port2] },
);
