// Node reference server for sockgate's benchmarks: socket.io 4.8 with its
// defaults (in-memory adapter, no compression), implementing exactly the
// events of ../cmd/sockgate-bench so both servers do the same work:
//
//   connect with ?room=R  -> the socket joins room R
//   "fanout" (room, msg)  -> io.to(room).emit("msg", msg)
//   "echo" (msg, ack)     -> ack(msg)
//
// With -redis host:port (or REDIS=host:port) it uses @socket.io/redis-adapter
// 8.x (classic pub/sub, default key "socket.io") on two node-redis 4.x
// clients (publisher and subscriber), as that adapter's README does.
//
// It listens on 127.0.0.1 (port from -port / PORT, 0 = any) and prints
// "LISTEN 127.0.0.1:<port>" on stdout once ready; the runner reads that line.
"use strict";

const http = require("node:http");
const { Server } = require("socket.io");

let port = Number(process.env.PORT || 0);
const i = process.argv.indexOf("-port");
if (i > 0) port = Number(process.argv[i + 1]);

let redisAddr = process.env.REDIS || "";
const j = process.argv.indexOf("-redis");
if (j > 0) redisAddr = process.argv[j + 1];

const httpServer = http.createServer();
const io = new Server(httpServer, { serveClient: false });
const redisClients = [];

io.on("connection", (socket) => {
  const room = socket.handshake.query.room;
  if (typeof room === "string" && room !== "") socket.join(room);
  socket.on("fanout", (room, msg) => {
    if (typeof room !== "string" || typeof msg !== "object" || msg === null) return;
    io.to(room).emit("msg", msg);
  });
  socket.on("echo", (msg, ack) => {
    if (typeof ack === "function") ack(msg);
  });
});

async function main() {
  if (redisAddr !== "") {
    const { createClient } = require("redis");
    const { createAdapter } = require("@socket.io/redis-adapter");
    const pub = createClient({ url: `redis://${redisAddr}` });
    const sub = pub.duplicate();
    for (const c of [pub, sub]) c.on("error", (err) => console.error("redis:", err.message));
    await Promise.all([pub.connect(), sub.connect()]);
    redisClients.push(pub, sub);
    io.adapter(createAdapter(pub, sub));
  }
  httpServer.listen(port, "127.0.0.1", () => {
    const a = httpServer.address();
    process.stdout.write(`LISTEN ${a.address}:${a.port}\n`);
  });
}

main().catch((err) => {
  console.error("server.js:", err);
  process.exit(1);
});

function stop() {
  io.close(() => {
    for (const c of redisClients) c.disconnect().catch(() => {});
    process.exit(0);
  });
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
