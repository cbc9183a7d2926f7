// socket.io-client driver for the Redis fault tests (gateway/redis_faults_test.go).
//
//   node fault_client.js <baseURL>
//
// One JSON command per line on stdin, one JSON answer per command on stdout
// with the command's seq. Streams run in the background and keep statistics
// the test reads when it wants, so it can pause or kill Redis in between.
//
//   {seq, op:"connect", c, ns, base, opts}  → {op:"connect", id} | {op:"connect_error", message}
//   {seq, op:"emit", c, event, args}        → {op:"ack", args} | {op:"noack"}
//   {seq, op:"stream", id, c, event, args, interval, sequential, timeout}
//        emits event every interval ms ("$i" in args becomes the emit's number);
//        sequential: the next waits for the previous ack   → {op:"started"}
//   {seq, op:"stats", id, reset}            → {op:"stats", sent, acked, noack, maxMs, codes}
//        codes counts acks by result: "ok" ({success:true}) or the error code;
//        reset starts a new measurement (max and codes) after answering
//   {seq, op:"stop", id}                    → {op:"stats", ...} and the stream ends
//   {seq, op:"count", c, event}             → {op:"count", n, last}: events c received
"use strict";
const { io } = require("socket.io-client");
const readline = require("readline");

const base = process.argv[2];
const clients = {};
const streams = {};
const out = (o) => process.stdout.write(JSON.stringify(o) + "\n");

function subst(v, i) {
  if (v === "$i") return i;
  if (typeof v === "string") return v.replace("$i", String(i));
  if (Array.isArray(v)) return v.map((x) => subst(x, i));
  if (v && typeof v === "object") {
    const o = {};
    for (const [k, x] of Object.entries(v)) o[k] = subst(x, i);
    return o;
  }
  return v;
}

function resultOf(args) {
  const a = args[0];
  if (a && a.success === true) return "ok";
  if (a && a.error && a.error.code) return a.error.code;
  return "other";
}

function emitAck(cl, event, args, timeout) {
  return new Promise((resolve) => {
    cl.socket.timeout(timeout).emit(event, ...args, (err, ...res) => resolve(err ? null : res));
  });
}

function startStream(cmd) {
  const cl = clients[cmd.c];
  const s = { sent: 0, acked: 0, noack: 0, maxMs: 0, codes: {}, stopped: false, timer: null };
  const one = async () => {
    const i = ++s.sent;
    const t0 = Date.now();
    const res = await emitAck(cl, cmd.event, subst(cmd.args || [], i), cmd.timeout || 15000);
    const ms = Date.now() - t0;
    s.maxMs = Math.max(s.maxMs, ms);
    if (res === null) s.noack++;
    else {
      s.acked++;
      const r = resultOf(res);
      s.codes[r] = (s.codes[r] || 0) + 1;
    }
  };
  if (cmd.sequential) {
    (async () => {
      while (!s.stopped) {
        const t0 = Date.now();
        await one();
        const wait = cmd.interval - (Date.now() - t0);
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
    })();
  } else {
    s.timer = setInterval(() => { one(); }, cmd.interval);
  }
  streams[cmd.id] = s;
}

function stats(s) {
  return { op: "stats", sent: s.sent, acked: s.acked, noack: s.noack, maxMs: s.maxMs, codes: s.codes };
}

async function run(cmd) {
  const t = cmd.timeout || 5000;
  const cl = clients[cmd.c];
  switch (cmd.op) {
    case "connect": {
      const opts = Object.assign({ forceNew: true, reconnection: false, timeout: t }, cmd.opts || {});
      const socket = io((cmd.base || base) + (cmd.ns || "/"), opts);
      const c = { socket, counts: {}, last: {} };
      clients[cmd.c] = c;
      socket.onAny((event, ...args) => {
        c.counts[event] = (c.counts[event] || 0) + 1;
        c.last[event] = args;
      });
      return new Promise((resolve) => {
        socket.once("connect", () => resolve({ op: "connect", id: socket.id }));
        socket.once("connect_error", (err) => resolve({ op: "connect_error", message: err.message }));
      });
    }
    case "emit": {
      const res = await emitAck(cl, cmd.event, cmd.args || [], t);
      return res === null ? { op: "noack" } : { op: "ack", args: res };
    }
    case "stream":
      startStream(cmd);
      return { op: "started" };
    case "stats": {
      const s = streams[cmd.id];
      const r = stats(s);
      if (cmd.reset) {
        s.maxMs = 0;
        s.codes = {};
      }
      return r;
    }
    case "stop": {
      const s = streams[cmd.id];
      s.stopped = true;
      if (s.timer) clearInterval(s.timer);
      return stats(s);
    }
    case "count":
      return { op: "count", n: cl.counts[cmd.event] || 0, last: cl.last[cmd.event] || null };
    default:
      throw new Error("unknown op " + cmd.op);
  }
}

const rl = readline.createInterface({ input: process.stdin });
rl.on("line", (line) => {
  if (!line.trim()) return;
  const cmd = JSON.parse(line);
  run(cmd).then(
    (res) => out(Object.assign({ seq: cmd.seq }, res)),
    (err) => out({ seq: cmd.seq, op: "error", message: String((err && err.stack) || err) }),
  );
});
rl.on("close", () => {
  for (const s of Object.values(streams)) if (s.timer) clearInterval(s.timer);
  for (const c of Object.values(clients)) c.socket.disconnect();
  setTimeout(() => process.exit(0), 100).unref();
});
