// Scenario driver for the gateway's end-to-end tests.
//
//   node driver.js <baseURL> <steps JSON>
//
// Runs the steps in order with real socket.io-client sockets and prints one
// JSON line per step that observes something (connect, ack, expect, drain,
// http), then {"op":"done"}. Every event a client receives is recorded in its
// inbox; "expect" consumes the first matching one, "drain" reports the rest.
// Strings "$id:<client>" anywhere in emitted args become that client's id.
// A "connect" or "http" step with "base" goes to that server instead of
// <baseURL> (several instances of a cluster).
"use strict";
const { io } = require("socket.io-client");

const [base, stepsJSON] = process.argv.slice(2);
const steps = JSON.parse(stepsJSON);
const clients = {};
const out = (o) => process.stdout.write(JSON.stringify(o) + "\n");

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

// take resolves with the first unconsumed event of client c named event
// (null on timeout or cancel); cancel stops waiting without consuming.
function take(c, event, timeout) {
  const cl = clients[c];
  let cancel;
  const p = new Promise((resolve) => {
    const check = () => {
      const i = cl.inbox.findIndex((e) => e.event === event);
      if (i >= 0) {
        const [e] = cl.inbox.splice(i, 1);
        cl.waiters.delete(check);
        clearTimeout(timer);
        resolve(e);
        return true;
      }
      return false;
    };
    const timer = setTimeout(() => {
      cl.waiters.delete(check);
      resolve(null);
    }, timeout);
    cancel = () => {
      cl.waiters.delete(check);
      clearTimeout(timer);
      resolve(null);
    };
    if (!check()) cl.waiters.add(check);
  });
  p.cancel = cancel;
  return p;
}

async function run(s) {
  const t = s.timeout || 5000;
  switch (s.op) {
    case "connect": {
      const opts = { forceNew: true, reconnection: false, timeout: t };
      if (s.transports) opts.transports = s.transports;
      if (s.auth) opts.auth = s.auth;
      const socket = io((s.base || base) + (s.ns || "/"), opts);
      const cl = { socket, inbox: [], waiters: new Set() };
      clients[s.c] = cl;
      socket.onAny((event, ...args) => {
        cl.inbox.push({ event, args });
        for (const w of [...cl.waiters]) w();
      });
      socket.on("disconnect", (reason) => {
        cl.inbox.push({ event: "disconnect", args: [reason] });
        for (const w of [...cl.waiters]) w();
      });
      await new Promise((resolve) => {
        socket.once("connect", () => {
          cl.id = socket.id; // kept: socket.id is undefined once disconnected
          out({ c: s.c, op: "connect", id: socket.id });
          resolve();
        });
        socket.once("connect_error", (err) => {
          out({ c: s.c, op: "connect_error", message: err.message, data: err.data });
          resolve();
        });
      });
      return;
    }
    case "emit": {
      const cl = clients[s.c];
      const args = subst(s.args || []);
      if (!s.ack) {
        cl.socket.emit(s.event, ...args);
        return;
      }
      // Resolve on the ack, or on an "exception" event if that comes first
      // (the server sends no ack after an exception on "/").
      let done = false;
      await new Promise((resolve) => {
        const exc = s.orException ? take(s.c, "exception", t) : null;
        cl.socket.timeout(t).emit(s.event, ...args, (err, ...res) => {
          if (done) return;
          done = true;
          if (exc) exc.cancel();
          out(err ? { c: s.c, op: "noack", event: s.event } : { c: s.c, op: "ack", event: s.event, args: res });
          resolve();
        });
        if (exc) {
          exc.then((e) => {
            if (done || !e) return;
            done = true;
            out({ c: s.c, op: "exception", event: s.event, args: e.args });
            resolve();
          });
        }
      });
      return;
    }
    case "expect": {
      const e = await take(s.c, s.event, t);
      out(e ? { c: s.c, op: "event", event: e.event, args: e.args } : { c: s.c, op: "missing", event: s.event });
      return;
    }
    case "drain": {
      const cl = clients[s.c];
      out({ c: s.c, op: "inbox", events: cl.inbox.splice(0) });
      return;
    }
    case "disconnect":
      clients[s.c].socket.disconnect();
      return;
    case "sleep":
      await new Promise((r) => setTimeout(r, s.ms));
      return;
    case "http": {
      // With "absent", poll until the body no longer contains that string
      // (e.g. a disconnected socket's id); with "users", until the room's
      // users array has that length; at most until the timeout passes.
      const until = Date.now() + t;
      let res;
      for (;;) {
        res = await fetch((s.base || base) + s.path, { method: s.method || "GET" });
        if ((!s.absent && s.users === undefined) || Date.now() > until) break;
        const probe = await res.clone().text();
        if (s.absent && !probe.includes(subst(s.absent))) break;
        if (s.users !== undefined && JSON.parse(probe).users?.length === s.users) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      const text = await res.text();
      let body;
      try { body = JSON.parse(text); } catch { body = text; }
      out({ op: "http", status: res.status, body, headers: Object.fromEntries(res.headers) });
      return;
    }
    default:
      throw new Error("unknown op " + s.op);
  }
}

(async () => {
  for (const s of steps) await run(s);
  out({ op: "done" });
  for (const cl of Object.values(clients)) cl.socket.disconnect();
  // Let the disconnect packets leave (a polling client's POST would
  // otherwise die with the process, and the server would only notice at
  // the ping timeout, as Node's would).
  await new Promise((r) => setTimeout(r, 100));
  process.exit(0);
})().catch((err) => {
  out({ op: "error", message: String(err && err.stack || err) });
  process.exit(1);
});
