// The quickstart worker: polls the API every TICK and logs what it sees. No port, no proxy.
const api = process.env.API_URL ?? "http://127.0.0.1:8081";
const tick = Number.parseFloat(process.env.TICK ?? "2") * 1000;

async function work() {
  try {
    const s = await (await fetch(`${api}/api/status`)).json();
    console.log(`worker ${process.env.SLIPWAY_VERSION}: api says "${s.greeting}" (${s.requests} requests)`);
  } catch (e) {
    console.error(`worker: api unreachable: ${e.message}`);
  }
}
const timer = setInterval(work, tick);
void work();
process.on("SIGTERM", () => {
  clearInterval(timer);
  console.log("worker: stopping");
  process.exit(0);
});
