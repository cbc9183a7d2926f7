// A Node socket.io 4.8 server with @socket.io/redis-adapter, driven by the Go
// interop tests: one JSON command per stdin line ({id, op, ...}), one JSON
// line per result ({id, result} or {id, error}) and per event seen by its
// own socket.io-client clients ({client, event, args}) on stdout.
// Usage: node node_server.js <redis url> <key prefix>
"use strict";
const http = require("http");
const readline = require("readline");
const { Server } = require("socket.io");
const { createAdapter } = require("@socket.io/redis-adapter");
const { createClient } = require("redis");
const ioc = require("socket.io-client");

const [redisURL, key] = process.argv.slice(2);
const out = (v) => process.stdout.write(JSON.stringify(v) + "\n");

// Binary values print as {bin: hex} so that the Go side can check them.
const show = (v) => {
  if (Buffer.isBuffer(v) || v instanceof ArrayBuffer || ArrayBuffer.isView(v)) {
    return { bin: Buffer.from(v).toString("hex") };
  }
  if (Array.isArray(v)) return v.map(show);
  if (v && typeof v === "object") {
    const o = {};
    for (const k of Object.keys(v)) o[k] = show(v[k]);
    return o;
  }
  return v;
};
// {bin: hex} in commands becomes a Buffer.
const unshow = (v) => {
  if (Array.isArray(v)) return v.map(unshow);
  if (v && typeof v === "object") {
    if (typeof v.bin === "string") return Buffer.from(v.bin, "hex");
    const o = {};
    for (const k of Object.keys(v)) o[k] = unshow(v[k]);
    return o;
  }
  return v;
};

const clients = new Map();

function target(io, cmd) {
  let op = io;
  if (cmd.rooms && cmd.rooms.length) op = op.to(cmd.rooms);
  if (cmd.except && cmd.except.length) op = op.except(cmd.except);
  return op;
}

const ops = {
  async client(io, cmd, port) {
    const c = ioc(cmd.url || `http://127.0.0.1:${port}`, {
      transports: ["websocket"], auth: { rooms: cmd.joins || [], name: cmd.name }, forceNew: true,
    });
    clients.set(cmd.name, c);
    c.onAny((event, ...args) => {
      const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
      out({ client: cmd.name, event, args: show(args) });
      if (ack) ack({ from: cmd.name });
    });
    c.on("disconnect", (reason) => out({ client: cmd.name, event: "disconnect", args: [reason] }));
    await new Promise((resolve, reject) => { c.once("connect", resolve); c.once("connect_error", reject); });
    // The server-side connection handler has joined the rooms once the
    // socket's id is known to the adapter with them.
    for (;;) {
      const s = io.sockets.sockets.get(c.id);
      if (s && (cmd.joins || []).every((r) => s.rooms.has(r))) break;
      await new Promise((r) => setImmediate(r));
    }
    return c.id;
  },
  async emit(io, cmd) { target(io, cmd).emit(cmd.event, ...unshow(cmd.args || [])); return true; },
  async fetch(io, cmd) {
    const socks = await target(io, cmd).fetchSockets();
    return socks.map((s) => ({ id: s.id, handshake: s.handshake, rooms: [...s.rooms], data: s.data }));
  },
  async join(io, cmd) { target(io, cmd).socketsJoin(cmd.room); return true; },
  async leave(io, cmd) { target(io, cmd).socketsLeave(cmd.room); return true; },
  async disconnect(io, cmd) { target(io, cmd).disconnectSockets(!!cmd.close); return true; },
  async emitWithAck(io, cmd) {
    try {
      return { replies: show(await target(io, cmd).timeout(cmd.timeout).emitWithAck(cmd.event, ...unshow(cmd.args || []))) };
    } catch (err) {
      return { error: err.message, replies: [] };
    }
  },
  async sse(io, cmd) { io.serverSideEmit(cmd.event, ...(cmd.args || [])); return true; },
  async sseAck(io, cmd) {
    try {
      return { replies: await io.serverSideEmitWithAck(cmd.event, ...(cmd.args || [])) };
    } catch (err) {
      return { error: err.message, replies: err.responses || [] };
    }
  },
  async serverCount(io) { return io.of("/").adapter.serverCount(); },
};

async function main() {
  const pub = createClient({ url: redisURL });
  const sub = pub.duplicate();
  pub.on("error", () => {});
  sub.on("error", () => {});
  await Promise.all([pub.connect(), sub.connect()]);
  const httpServer = http.createServer();
  const io = new Server(httpServer, { adapter: createAdapter(pub, sub, { key, requestsTimeout: 2000 }) });
  io.on("connection", (socket) => {
    socket.join(socket.handshake.auth.rooms || []);
    socket.data = { name: socket.handshake.auth.name };
  });
  io.on("hello", (...args) => {
    const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
    out({ serverSide: "hello", args });
    if (ack) ack({ from: "node" });
  });
  await new Promise((r) => httpServer.listen(0, "127.0.0.1", r));
  const port = httpServer.address().port;
  const rl = readline.createInterface({ input: process.stdin });
  rl.on("line", async (line) => {
    const cmd = JSON.parse(line);
    try {
      out({ id: cmd.id, result: await ops[cmd.op](io, cmd, port) });
    } catch (err) {
      out({ id: cmd.id, error: String(err && err.message || err) });
    }
  });
  rl.on("close", () => process.exit(0));
  out({ ready: port });
}
main().catch((err) => { console.error(err); process.exit(1); });
