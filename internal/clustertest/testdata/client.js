// Scenario driver of the topology tests: real socket.io-client sockets
// talking to the cluster through nginx, each bound to its own loopback
// source address (nginx's ip_hash picks the instance from it).
//
//   node client.js <baseURL> <plan JSON>
//
// plan = {clients: {<name>: {localAddress, transports?, origin?}}, steps: [...]}.
// Runs the steps in order and prints one JSON line per step, then
// {"op":"done"}; then holds every socket open until stdin closes, then
// disconnects them all, prints {"op":"closed"} and exits. Strings
// "$id:<client>" in emitted args become that client's socket id.
//
//   {op:"connect", c, ns?}       → {c, op:"connect", id, sid, transport (opened with)} | {c, op:"connect_error", message}
//   {op:"upgrade", c}            → {c, op:"upgrade", transport}  (waits for the WebSocket upgrade)
//   {op:"emit", c, event, args}  → {c, op:"ack", args} | {c, op:"noack", exceptions}
//   {op:"expect", c, event}      → {c, op:"event", args} | {c, op:"missing", inbox}
//   {op:"get", c, path}          → {c, op:"http", status, body}  (GET through nginx from c's address)
"use strict";
const http = require("http");
const { io } = require("socket.io-client");

const [base, planJSON] = process.argv.slice(2);
const plan = JSON.parse(planJSON);
const clients = {};
const out = (o) => process.stdout.write(JSON.stringify(o) + "\n");

for (const [name, o] of Object.entries(plan.clients)) {
  // Polling goes through the agent (xmlhttprequest-ssl takes `agent`), the
  // WebSocket through `localAddress` (and the agent) of ws.
  const agent = new http.Agent({ localAddress: o.localAddress, keepAlive: true });
  clients[name] = { opts: o, agent, inbox: [], waiters: new Set() };
}

function subst(v) {
  if (typeof v === "string" && v.startsWith("$id:")) return clients[v.slice(4)].id;
  if (Array.isArray(v)) return v.map(subst);
  if (v && typeof v === "object") {
    const o = {};
    for (const [k, x] of Object.entries(v)) o[k] = subst(x);
    return o;
  }
  return v;
}

function record(cl, event, args) {
  cl.inbox.push({ event, args });
  for (const w of [...cl.waiters]) w();
}

// take resolves with the first unconsumed event named event, or null after timeout.
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

async function run(s) {
  const t = s.timeout || 5000;
  const cl = clients[s.c];
  switch (s.op) {
    case "connect": {
      const o = cl.opts;
      const opts = {
        forceNew: true, reconnection: false, timeout: t,
        agent: cl.agent, localAddress: o.localAddress,
      };
      if (o.transports) opts.transports = o.transports;
      if (o.origin) opts.origin = o.origin; // sent by ws, like a browser's Origin
      const socket = io(base + (s.ns || "/"), opts);
      cl.socket = socket;
      // The transport the Engine.IO session opened with (a polling-first
      // client may already have upgraded when "connect" fires).
      let opened;
      socket.io.engine.once("open", () => (opened = socket.io.engine.transport.name));
      socket.onAny((event, ...args) => record(cl, event, args));
      socket.on("disconnect", (reason) => record(cl, "disconnect", [reason]));
      return new Promise((resolve) => {
        socket.once("connect", () => {
          cl.id = socket.id;
          const engine = socket.io.engine;
          resolve({ c: s.c, op: "connect", id: socket.id, sid: engine.id, transport: opened });
        });
        socket.once("connect_error", (err) => resolve({ c: s.c, op: "connect_error", message: err.message }));
      });
    }
    case "upgrade": {
      const engine = cl.socket.io.engine;
      if (engine.transport.name !== "websocket") {
        await new Promise((resolve) => {
          const timer = setTimeout(resolve, t);
          engine.once("upgrade", () => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      return { c: s.c, op: "upgrade", transport: engine.transport.name };
    }
    case "emit": {
      const args = subst(s.args || []);
      try {
        const res = await cl.socket.timeout(t).emitWithAck(s.event, ...args);
        return { c: s.c, op: "ack", args: [res] };
      } catch (err) {
        return { c: s.c, op: "noack", exceptions: cl.inbox.filter((e) => e.event === "exception") };
      }
    }
    case "expect": {
      const e = await take(cl, s.event, t);
      return e ? { c: s.c, op: "event", args: e.args } : { c: s.c, op: "missing", inbox: cl.inbox };
    }
    case "get": {
      return new Promise((resolve) => {
        const req = http.get(base + s.path, { agent: cl.agent, timeout: t }, (res) => {
          let body = "";
          res.setEncoding("utf8");
          res.on("data", (d) => (body += d));
          res.on("end", () => {
            let parsed = body;
            try {
              parsed = JSON.parse(body);
            } catch (_) {}
            resolve({ c: s.c, op: "http", status: res.statusCode, body: parsed });
          });
        });
        req.on("timeout", () => req.destroy(new Error("timeout")));
        req.on("error", (err) => resolve({ c: s.c, op: "http", status: 0, body: String(err) }));
      });
    }
    default:
      throw new Error("unknown op " + s.op);
  }
}

(async () => {
  for (const s of plan.steps) out(await run(s));
  out({ op: "done" });
  process.stdin.resume();
  process.stdin.on("end", () => {
    for (const cl of Object.values(clients)) {
      if (cl.socket) cl.socket.disconnect();
      cl.agent.destroy();
    }
    out({ op: "closed" });
    // Let the close frames go out before exiting.
    setImmediate(() => process.exit(0));
  });
})().catch((err) => {
  out({ op: "error", message: String(err && err.stack) });
  process.exit(1);
});
