// Node reference server for sockgate's benchmarks: socket.io 4.8 with its
// defaults (in-memory adapter, no compression), implementing exactly the
// events of ../cmd/sockgate-bench so both servers do the same work:
//
//   connect with ?room=R  -> the socket joins room R
//   "fanout" (room, msg)  -> io.to(room).emit("msg", msg)
//   "echo" (msg, ack)     -> ack(msg)
//
// It listens on 127.0.0.1 (port from -port / PORT, 0 = any) and prints
// "LISTEN 127.0.0.1:<port>" on stdout once ready; the runner reads that line.
"use strict";

const http = require("node:http");
const { Server } = require("socket.io");

let port = Number(process.env.PORT || 0);
const i = process.argv.indexOf("-port");
if (i > 0) port = Number(process.argv[i + 1]);

const httpServer = http.createServer();
const io = new Server(httpServer, { serveClient: false });

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

httpServer.listen(port, "127.0.0.1", () => {
  const a = httpServer.address();
  process.stdout.write(`LISTEN ${a.address}:${a.port}\n`);
});

function stop() {
  io.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
