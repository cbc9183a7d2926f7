// Real socket.io-client 4.8 clients for the streams-mode tests, and
// optionally a Node socket.io 4.8 server with @socket.io/redis-streams-adapter
// and connection-state recovery, driven by the Go tests: one JSON command per
// stdin line ({id, op, ...}), one JSON line per result ({id, result} or
// {id, error}) and per client event ({client, event, args}) on stdout; a
// client's "connect" event has args [id, recovered].
// Usage: node streams_node.js <redis url> <stream name> [server]
"use strict";
const http = require("http");
const readline = require("readline");
const ioc = require("socket.io-client");

const [redisURL, streamName, withServer] = process.argv.slice(2);
const out = (v) => process.stdout.write(JSON.stringify(v) + "\n");
const clients = new Map();

// Binary values print as {bin: hex}; {bin: hex} in commands becomes a Buffer.
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

const ops = {
  async client(io, cmd) {
    const c = ioc(cmd.url, {
      transports: ["websocket"], auth: { rooms: cmd.joins || [] }, forceNew: true,
      reconnectionDelay: 50, reconnectionDelayMax: 200, randomizationFactor: 0,
    });
    clients.set(cmd.name, c);
    c.onAny((event, ...args) => {
      const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
      out({ client: cmd.name, event, args: show(args) });
      if (ack) ack({ from: cmd.name });
    });
    c.on("connect", () => out({ client: cmd.name, event: "connect", args: [c.id, c.recovered] }));
    c.on("disconnect", (reason) => out({ client: cmd.name, event: "disconnect", args: [reason] }));
    await new Promise((resolve, reject) => { c.once("connect", resolve); c.once("connect_error", reject); });
    return c.id;
  },
  async close(io, cmd) { clients.get(cmd.name).close(); return true; },
  async emit(io, cmd) {
    let op = io;
    if (cmd.rooms && cmd.rooms.length) op = op.to(cmd.rooms);
    if (cmd.except && cmd.except.length) op = op.except(cmd.except);
    op.emit(cmd.event, ...unshow(cmd.args || []));
    return true;
  },
  async fetch(io) {
    return (await io.fetchSockets()).map((s) => ({ id: s.id, rooms: [...s.rooms] }));
  },
  async join(io, cmd) { io.socketsJoin(cmd.room); return true; },
  async rooms(io, cmd) { return [...(io.of("/").sockets.get(cmd.sid)?.rooms || [])]; },
  async sseAck(io, cmd) {
    try {
      return { replies: await io.serverSideEmitWithAck(cmd.event, ...(cmd.args || [])) };
    } catch (err) {
      return { error: err.message, replies: [] };
    }
  },
  async emitWithAck(io, cmd) {
    try {
      return { replies: await io.timeout(cmd.timeout).emitWithAck(cmd.event, ...(cmd.args || [])) };
    } catch (err) {
      return { error: err.message, replies: [] };
    }
  },
  async serverCount(io) { return io.of("/").adapter.serverCount(); },
};

async function server() {
  const { Server } = require("socket.io");
  const { createAdapter } = require("@socket.io/redis-streams-adapter");
  const { createClient } = require("redis");
  const redis = createClient({ url: redisURL });
  redis.on("error", () => {});
  await redis.connect();
  const httpServer = http.createServer();
  const io = new Server(httpServer, {
    adapter: createAdapter(redis, { streamName, blockTimeInMs: 1000 }),
    connectionStateRecovery: { maxDisconnectionDuration: 60000, skipMiddlewares: true },
  });
  io.on("connection", (socket) => {
    if (!socket.recovered) socket.join(socket.handshake.auth.rooms || []);
  });
  io.on("hello", (...args) => {
    const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
    out({ serverSide: "hello", args });
    if (ack) ack({ from: "node" });
  });
  await new Promise((r) => httpServer.listen(0, "127.0.0.1", r));
  return { io, port: httpServer.address().port };
}

async function main() {
  const { io, port } = withServer === "server" ? await server() : { io: null, port: 0 };
  const rl = readline.createInterface({ input: process.stdin });
  rl.on("line", async (line) => {
    const cmd = JSON.parse(line);
    try {
      out({ id: cmd.id, result: await ops[cmd.op](io, cmd) });
    } catch (err) {
      out({ id: cmd.id, error: String(err && err.message || err) });
    }
  });
  rl.on("close", () => process.exit(0));
  out({ ready: port || -1 });
}
main().catch((err) => { console.error(err); process.exit(1); });
