/** A free TCP port on 127.0.0.1 for a proxied instance. */
import { createServer } from "node:net";
import { DriverError } from "../../errors.js";
import { NAME } from "./layout.js";

/** Bound, then released for the instance to take. */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    // Not unref'd: a CLI run with nothing else pending would exit before the port is known.
    const srv = createServer();
    srv.on("error", (e) => reject(new DriverError(NAME, `no free port on 127.0.0.1: ${e.message}`)));
    srv.listen(0, "127.0.0.1", () => {
      const a = srv.address();
      const port = typeof a === "object" && a ? a.port : 0;
      srv.close(() => resolve(port));
    });
  });
}
