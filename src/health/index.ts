/** Health probes: the contract, the implementations, the factory and the wait loop. */
export type { Probe, ProbeResult, ProbeTarget } from "./probe.js";
export { createProbe, AllProbe } from "./create.js";
export { waitHealthy, type WaitOptions, type WaitOutcome, type HealthTimings } from "./wait.js";
export { HttpProbe, httpGet, statusOk } from "./http.js";
export { TcpProbe, tcpConnect, parseHostPort } from "./tcp.js";
export { ExecProbe } from "./exec.js";
export { PostgresProbe, pingPostgres } from "./postgres.js";
export { RedisProbe, pingRedis } from "./redis.js";
export { makeRedactor, redactUrl, describeUrl } from "../util/redact.js";
