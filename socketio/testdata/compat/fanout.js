"use strict";
// fanout.js: ordering/loss check of room broadcasts with the real
// socket.io-client (socketio/fanout_compat_test.go).
//
//   node fanout.js <base url> <json {receivers, count, transports}>
//
// `receivers` clients (one Manager each) join the room through the "join"
// event (acknowledged once the server has joined them); then one sender
// emits "n" with 0..count-1 as fast as it can, every tenth with a 2-byte
// Buffer (the number, little-endian) as a second argument. The server relays
// every "n" to the room. Each receiver must get exactly 0..count-1, in
// order, each with its Buffer or none. Prints
// {"ev":"sent"} and finally {"ev":"result", ...}; a failure prints
// {"ev":"fatal", ...} and exits 1.

const { io } = require("socket.io-client");

const [, , baseURL, rawConfig] = process.argv;
const cfg = JSON.parse(rawConfig);
const started = Date.now();

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

const states = [];

function summary() {
  let complete = 0;
  let disordered = 0;
  let minGot = Infinity;
  let firstBad = null;
  for (const st of states) {
    if (st.got === cfg.count && st.bad === 0) complete++;
    if (st.bad > 0) {
      disordered++;
      if (!firstBad) firstBad = st.firstBad;
    }
    minGot = Math.min(minGot, st.got);
  }
  return { receivers: states.length, complete, disordered, minGot, firstBad, ms: Date.now() - started };
}

function fatal(err) {
  out({ ev: "fatal", message: String((err && err.stack) || err), summary: summary() });
  process.exit(1);
}
process.on("uncaughtException", fatal);
process.on("unhandledRejection", fatal);
setTimeout(() => fatal("watchdog"), cfg.watchdogMs || 50000).unref();

const opts = {
  forceNew: true,
  reconnection: false,
  transports: cfg.transports,
  upgrade: cfg.transports.length > 1,
};
const sockets = [];
let joined = 0;
let done = 0;

function finish() {
  out(Object.assign({ ev: "result" }, summary()));
  for (const s of sockets) s.disconnect();
  setTimeout(() => process.exit(0), 2000).unref();
}

function startSender() {
  const sender = io(baseURL + "/", Object.assign({}, opts, { auth: { role: "send" } }));
  sockets.push(sender);
  sender.on("connect_error", (err) => fatal("sender connect_error: " + err.message));
  sender.on("disconnect", (reason) => {
    if (done < cfg.receivers) fatal("sender disconnected: " + reason);
  });
  sender.on("connect", () => {
    for (let i = 0; i < cfg.count; i++) {
      if (i % 10 === 0) sender.emit("n", i, Buffer.from([i & 255, (i >> 8) & 255]));
      else sender.emit("n", i);
    }
    out({ ev: "sent", ms: Date.now() - started });
  });
}

for (let r = 0; r < cfg.receivers; r++) {
  const st = { got: 0, bad: 0, firstBad: null };
  states.push(st);
  const s = io(baseURL + "/", Object.assign({}, opts, { auth: { role: "recv", i: r } }));
  sockets.push(s);
  s.on("connect_error", (err) => fatal(`receiver ${r} connect_error: ${err.message}`));
  s.on("disconnect", (reason) => {
    if (done < cfg.receivers) fatal(`receiver ${r} disconnected: ${reason}`);
  });
  s.on("n", (v, b) => {
    let ok = v === st.got;
    if (v % 10 === 0) ok = ok && Buffer.isBuffer(b) && b.length === 2 && b[0] === (v & 255) && b[1] === ((v >> 8) & 255);
    else ok = ok && b === undefined;
    if (!ok && st.bad++ === 0) st.firstBad = { receiver: r, expected: st.got, got: v, bin: Buffer.isBuffer(b) ? b.toString("hex") : String(b) };
    st.got++;
    if (st.got === cfg.count && ++done === cfg.receivers) finish();
  });
  s.on("connect", () => {
    s.emitWithAck("join").then(() => {
      if (++joined === cfg.receivers) startSender();
    }, fatal);
  });
}
