// Interactive socket.io-client driver for the stored-chat tests
// (gateway/*chat*_test.go, auth_test.go, recovery_test.go).
//
//   node chat_client.js <baseURL>
//
// Reads one JSON command per line on stdin and answers each with one JSON
// line on stdout carrying the command's seq, so the Go test can act between
// steps (stop the store, inspect it, mint tokens). Every event a client
// receives, "disconnect" included, goes to its inbox in arrival order.
//
//   {seq, op:"connect", c, ns, opts}      → {op:"connect", id} | {op:"connect_error", message, data, description, body}
//   {seq, op:"emit", c, event, args, ack, timeout}
//                                         → {op:"ack", args} | {op:"noack"} | {op:"sent"}
//   {seq, op:"emit", c, event, args, ack, async:true, tag}
//                                         → {op:"sent"} at once; the ack goes to the
//                                           inbox as event "ack" with args [tag, ...ack]
//                                           (or [tag, "noack"])
//   {seq, op:"burst", cs:[c...], event, n, arg}
//                                         → {op:"sent"} after emitting, in one go, n
//                                           events from each client in turn (arg with
//                                           content "<c> <i>"); acks go to the inbox as
//                                           for async emits, tagged "<c> <i>"
//   {seq, op:"expect", c, event, timeout} → {op:"event", args} | {op:"missing"}
//                                           (consumes the first such event of the inbox)
//   {seq, op:"absent", c, event, ms}      → {op:"absent"} | {op:"present", args}
//                                           (waits ms; consumes nothing)
//   {seq, op:"drain", c}                  → {op:"inbox", events:[{event, args}]}
//   {seq, op:"disconnect", c}             → {op:"disconnected"}
"use strict";
const { io } = require("socket.io-client");
const readline = require("readline");

const base = process.argv[2];
const clients = {};
const out = (o) => process.stdout.write(JSON.stringify(o) + "\n");

function record(cl, event, args) {
  cl.inbox.push({ event, args });
  for (const w of [...cl.waiters]) w();
}

function take(cl, event, timeout) {
  return new Promise((resolve) => {
    let timer;
    const check = () => {
      const i = cl.inbox.findIndex((e) => e.event === event);
      if (i < 0) return false;
      const [e] = cl.inbox.splice(i, 1);
      cl.waiters.delete(check);
      clearTimeout(timer);
      resolve(e);
      return true;
    };
    if (check()) return;
    cl.waiters.add(check);
    timer = setTimeout(() => {
      cl.waiters.delete(check);
      resolve(null);
    }, timeout);
  });
}

async function run(cmd) {
  const t = cmd.timeout || 5000;
  const cl = clients[cmd.c];
  switch (cmd.op) {
    case "connect": {
      const opts = Object.assign({ forceNew: true, reconnection: false, timeout: t }, cmd.opts || {});
      const socket = io(base + (cmd.ns || "/"), opts);
      const c = { socket, inbox: [], waiters: new Set() };
      clients[cmd.c] = c;
      socket.onAny((event, ...args) => record(c, event, args));
      socket.on("disconnect", (reason) => record(c, "disconnect", [reason]));
      return new Promise((resolve) => {
        socket.once("connect", () => resolve({ op: "connect", id: socket.id }));
        socket.once("connect_error", (err) =>
          resolve({
            op: "connect_error",
            message: err.message,
            data: err.data,
            // A refused Engine.IO handshake: the HTTP status and the body
            // (engine.io-client passes the XHR as err.context).
            description: err.description,
            body: err.context && typeof err.context.responseText === "string" ? err.context.responseText : undefined,
          }),
        );
      });
    }
    case "emit": {
      const args = cmd.args || [];
      if (!cmd.ack) {
        cl.socket.emit(cmd.event, ...args);
        return { op: "sent" };
      }
      if (cmd.async) {
        cl.socket.timeout(t).emit(cmd.event, ...args, (err, ...res) =>
          record(cl, "ack", err ? [cmd.tag, "noack"] : [cmd.tag, ...res]),
        );
        return { op: "sent" };
      }
      return new Promise((resolve) => {
        cl.socket.timeout(t).emit(cmd.event, ...args, (err, ...res) =>
          resolve(err ? { op: "noack" } : { op: "ack", args: res }),
        );
      });
    }
    case "burst": {
      for (let i = 0; i < cmd.n; i++) {
        for (const c of cmd.cs) {
          const cl = clients[c];
          const tag = c + " " + i;
          const arg = Object.assign({}, cmd.arg, { content: tag });
          cl.socket.timeout(t).emit(cmd.event, arg, (err, ...res) =>
            record(cl, "ack", err ? [tag, "noack"] : [tag, ...res]),
          );
        }
      }
      return { op: "sent" };
    }
    case "expect": {
      const e = await take(cl, cmd.event, t);
      return e ? { op: "event", args: e.args } : { op: "missing" };
    }
    case "absent": {
      await new Promise((r) => setTimeout(r, cmd.ms || 300));
      const e = cl.inbox.find((x) => x.event === cmd.event);
      return e ? { op: "present", args: e.args } : { op: "absent" };
    }
    case "drain":
      return { op: "inbox", events: cl.inbox.splice(0) };
    case "disconnect":
      cl.socket.disconnect();
      return { op: "disconnected" };
    default:
      throw new Error("unknown op " + cmd.op);
  }
}

const rl = readline.createInterface({ input: process.stdin });
rl.on("line", (line) => {
  if (!line.trim()) return;
  const cmd = JSON.parse(line);
  run(cmd).then(
    (res) => out(Object.assign({ seq: cmd.seq, c: cmd.c }, res)),
    (err) => out({ seq: cmd.seq, c: cmd.c, op: "error", message: String((err && err.stack) || err) }),
  );
});
rl.on("close", () => {
  for (const c of Object.values(clients)) c.socket.disconnect();
  setTimeout(() => process.exit(0), 100).unref();
});
