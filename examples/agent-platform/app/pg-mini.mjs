// A minimal PostgreSQL client for the stand-in's migration tool (no npm dependencies in the image):
// the v3 wire protocol's simple queries, with trust, cleartext, md5 or SCRAM-SHA-256 login.
// query(sql) resolves to the rows of the last statement (values as text); an error rejects.
import { createHash, createHmac, pbkdf2Sync, randomBytes } from "node:crypto";
import { connect as tcp } from "node:net";

const md5 = (s) => createHash("md5").update(s).digest("hex");
const hmac = (k, s) => createHmac("sha256", k).update(s).digest();

function message(type, body) {
  const head = Buffer.alloc(type ? 5 : 4);
  if (type) head.write(type, 0);
  head.writeInt32BE(body.length + 4, type ? 1 : 0);
  return Buffer.concat([head, body]);
}
const cstr = (s) => Buffer.from(`${s}\0`);

export async function connect(url) {
  const u = new URL(url);
  const user = decodeURIComponent(u.username || "postgres");
  const password = decodeURIComponent(u.password || "");
  const database = decodeURIComponent(u.pathname.slice(1) || user);
  const socket = tcp({ host: u.hostname, port: Number(u.port) || 5432 });
  await new Promise((ok, fail) => socket.once("connect", ok).once("error", fail));

  let buf = Buffer.alloc(0);
  const waiting = [];
  const queue = [];
  socket.on("data", (d) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 5 && buf.length >= 1 + buf.readInt32BE(1)) {
      const len = buf.readInt32BE(1);
      const m = { type: String.fromCharCode(buf[0]), body: buf.subarray(5, 1 + len) };
      buf = buf.subarray(1 + len);
      const w = waiting.shift();
      if (w) w(m);
      else queue.push(m);
    }
  });
  let closed;
  socket.on("error", (e) => (closed = e));
  const next = () =>
    queue.length
      ? Promise.resolve(queue.shift())
      : closed
        ? Promise.reject(closed)
        : new Promise((ok) => waiting.push(ok));
  const errorOf = (body) => {
    const f = {};
    for (const part of body.toString("utf8").split("\0")) if (part) f[part[0]] = part.slice(1);
    return new Error(`${f.S ?? "ERROR"}: ${f.M ?? "unknown error"}`);
  };

  const version = Buffer.alloc(4);
  version.writeInt32BE(196608);
  socket.write(
    message(
      "",
      Buffer.concat([version, cstr("user"), cstr(user), cstr("database"), cstr(database), cstr("")]),
    ),
  );
  let nonce, clientFirst, serverSignature;
  for (;;) {
    const m = await next();
    if (m.type === "E") throw errorOf(m.body);
    if (m.type === "Z") break;
    if (m.type !== "R") continue;
    const code = m.body.readInt32BE(0);
    if (code === 3) socket.write(message("p", cstr(password)));
    else if (code === 5) {
      const salt = m.body.subarray(4, 8);
      const inner = md5(password + user);
      socket.write(message("p", cstr(`md5${md5(Buffer.concat([Buffer.from(inner), salt]))}`)));
    } else if (code === 10) {
      nonce = randomBytes(18).toString("base64");
      clientFirst = `n=,r=${nonce}`;
      const data = Buffer.from(`n,,${clientFirst}`);
      const len = Buffer.alloc(4);
      len.writeInt32BE(data.length);
      socket.write(message("p", Buffer.concat([cstr("SCRAM-SHA-256"), len, data])));
    } else if (code === 11) {
      const serverFirst = m.body.subarray(4).toString();
      const a = Object.fromEntries(serverFirst.split(",").map((kv) => [kv[0], kv.slice(2)]));
      if (!a.r.startsWith(nonce)) throw new Error("SCRAM: server nonce does not extend ours");
      const salted = pbkdf2Sync(password, Buffer.from(a.s, "base64"), Number(a.i), 32, "sha256");
      const clientKey = hmac(salted, "Client Key");
      const stored = createHash("sha256").update(clientKey).digest();
      const withoutProof = `c=biws,r=${a.r}`;
      const auth = `${clientFirst},${serverFirst},${withoutProof}`;
      const sig = hmac(stored, auth);
      const proof = Buffer.from(clientKey.map((b, i) => b ^ sig[i])).toString("base64");
      serverSignature = hmac(hmac(salted, "Server Key"), auth).toString("base64");
      socket.write(message("p", Buffer.from(`${withoutProof},p=${proof}`)));
    } else if (code === 12) {
      if (m.body.subarray(4).toString() !== `v=${serverSignature}`)
        throw new Error("SCRAM: bad server signature");
    } else if (code !== 0) throw new Error(`unsupported authentication method ${code}`);
  }

  async function query(sql) {
    socket.write(message("Q", cstr(sql)));
    let rows = [];
    let cols = [];
    let error;
    for (;;) {
      const m = await next();
      if (m.type === "T") {
        cols = [];
        rows = [];
        let off = 2;
        for (let i = 0; i < m.body.readInt16BE(0); i++) {
          const end = m.body.indexOf(0, off);
          cols.push(m.body.toString("utf8", off, end));
          off = end + 1 + 18;
        }
      } else if (m.type === "D") {
        const row = {};
        let off = 2;
        for (let i = 0; i < m.body.readInt16BE(0); i++) {
          const len = m.body.readInt32BE(off);
          off += 4;
          row[cols[i]] = len < 0 ? null : m.body.toString("utf8", off, off + len);
          if (len > 0) off += len;
        }
        rows.push(row);
      } else if (m.type === "E") error = errorOf(m.body);
      else if (m.type === "Z") {
        if (error) throw error;
        return rows;
      }
    }
  }
  const end = () => {
    socket.write(message("X", Buffer.alloc(0)));
    socket.end();
  };
  return { query, end };
}
