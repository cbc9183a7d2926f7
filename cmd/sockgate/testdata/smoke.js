// End-to-end smoke test of the sockgate binary's server (Main):
//   node smoke.js <baseURL>
// Two tutorial clients (one WebSocket-only, one starting with polling) join
// a room and chat; a /chat and a /rooms client connect. It prints JSON lines
// and then {"op":"ready"}, and stays connected until the server shuts down,
// printing each client's disconnect reason.
"use strict";
const { io } = require("socket.io-client");
const base = process.argv[2];
const out = (o) => process.stdout.write(JSON.stringify(o) + "\n");

function connect(ns, opts) {
  const s = io(base + ns, { forceNew: true, reconnection: false, ...opts });
  return new Promise((resolve, reject) => {
    s.once("connect", () => resolve(s));
    s.once("connect_error", reject);
  });
}

(async () => {
  const a = await connect("/", { transports: ["websocket"] });
  const b = await connect("/", {});
  const chat = await connect("/chat", {});
  const rooms = await connect("/rooms", {});
  out({ op: "ids", ids: [a.id, b.id, chat.id, rooms.id] });
  const join = (s, userId, userName) =>
    s.timeout(5000).emitWithAck("join_room", { user: { userId, userName, socketId: s.id }, roomName: "smoke", eventName: "join_room" });
  out({ op: "join", acks: [await join(a, "u-a", "Alice"), await join(b, "u-b", "Bob")] });
  const got = new Promise((resolve) => b.once("chat", resolve));
  const ack = await a.timeout(5000).emitWithAck("chat", {
    user: { userId: "u-a", userName: "Alice", socketId: a.id }, timeSent: 1, message: "hi", roomName: "smoke", eventName: "chat",
  });
  out({ op: "chat", ack, received: await got });
  const res = await fetch(base + "/api/rooms/smoke");
  out({ op: "room", status: res.status, body: await res.json() });
  const reasons = {};
  const all = { a, b, chat, rooms };
  let left = 4;
  for (const [k, s] of Object.entries(all)) {
    s.on("disconnect", (reason) => {
      reasons[k] = reason;
      if (--left === 0) {
        out({ op: "disconnected", reasons });
        process.exit(0);
      }
    });
  }
  // b upgrades to WebSocket in the background; wait for it to settle.
  await new Promise((r) => (b.io.engine.transport.name === "websocket" ? r() : b.io.engine.once("upgrade", r)));
  out({ op: "ready", transports: [a.io.engine.transport.name, b.io.engine.transport.name] });
})().catch((err) => {
  out({ op: "error", message: String(err && err.stack || err) });
  process.exit(1);
});
