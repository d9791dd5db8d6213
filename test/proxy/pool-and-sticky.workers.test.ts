/**
 * test/proxy/pool-and-sticky.test.ts again, against a proxy with two worker processes
 * (SLIPWAY_PROXY_WORKERS=2): the same assertions must hold across processes.
 */
process.env.SLIPWAY_TEST_PROXY_WORKERS = "2"; // read by proxySuite() when the suite below loads
await import("./pool-and-sticky.test.js");
