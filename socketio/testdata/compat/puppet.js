"use strict";
// puppet.js: socket.io-client 4.8.x clients driven by sockgate's Go
// compatibility tests (socketio/*_compat_test.go).
//
//   node puppet.js <base url> <json config>
//
// config: {
//   clients: [{ name, nsp, opts, manager, bare, noAck, noPong, freezePingTimer, logPings, delayUpgradeMs,
//               onConnect: [cmd...] }],
//   watchdogMs
// }
//
// Every client is its own Manager (forceNew), unless clients name the same
// "manager" (one Engine.IO connection multiplexing their namespaces);
// reconnection is disabled unless opts says otherwise; auth is {name, ...opts.auth}.
// A noAck client never answers acknowledgements. The script prints one JSON
// object per line for everything the clients observe:
//
//   {"ev":"open","c":name,"transport":"polling"}           engine open
//   {"ev":"connect","c":name,"id":...,"transport":...}
//   {"ev":"upgrade","c":name,"transport":"websocket","current":...}
//   {"ev":"event","c":name,"event":e,"args":[...],"ack":bool}
//   {"ev":"ack","c":name,"tag":t,"args":[...]} / {"ev":"ack_error",...,"message":m}
//   {"ev":"disconnect","c":name,"reason":r,"description":d,"active":willReconnect}
//   {"ev":"ping","c":name,"transport":t}                    (logPings only)
//   {"ev":"paused","c":name}       polling paused for the upgrade (delayUpgradeMs only)
//   {"ev":"burstAck","c":name,"tag":t,"answered":n,"wrong":n}
//   {"ev":"connect_error","c":name,"message":m,"data":d}
//   {"ev":"manager_error","c":name,"message":m,"description":d}
//   {"ev":"manager_close","c":name,"reason":r}             (bare clients: a Manager, no namespace)
//   {"ev":"state","c":name,...}  {"ev":"exit"}  {"ev":"fatal","message":m}
//
// Buffers print as {"$bin":"<hex>"}. In command arguments {"$bin":"<hex>"}
// becomes a Buffer and {"$str":n} a string of n "x".
//
// The server drives the clients with the "cmd" event (see runCmd); it is
// acknowledged as soon as the command has been started. An event carrying an
// ack callback is answered with its own arguments ("double": with twice its
// number), unless its name starts with "noack". The script exits when every client has disconnected or
// failed to connect, and its managers have closed.

const { io, Manager } = require("socket.io-client");

const [, , baseURL, rawConfig] = process.argv;
const config = JSON.parse(rawConfig || "{}");

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

function fatal(err) {
  out({ ev: "fatal", message: String((err && err.stack) || err) });
  process.exit(1);
}
process.on("uncaughtException", fatal);
process.on("unhandledRejection", fatal);

setTimeout(() => fatal("watchdog: script still running"), config.watchdogMs || 30000).unref();

// show converts received values to JSON-friendly form, keeping binaries visible.
function show(v) {
  if (Buffer.isBuffer(v)) return { $bin: v.toString("hex") };
  if (v instanceof ArrayBuffer) return { $bin: Buffer.from(v).toString("hex") };
  if (ArrayBuffer.isView(v)) return { $bin: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("hex") };
  if (Array.isArray(v)) return v.map(show);
  if (v && typeof v === "object") {
    const o = {};
    for (const k of Object.keys(v)) o[k] = show(v[k]);
    return o;
  }
  return v;
}

// build turns command arguments into what the client emits.
function build(v) {
  if (Array.isArray(v)) return v.map(build);
  if (v && typeof v === "object") {
    if (typeof v.$bin === "string") return Buffer.from(v.$bin, "hex");
    if (typeof v.$str === "number") return "x".repeat(v.$str);
    const o = {};
    for (const k of Object.keys(v)) o[k] = build(v[k]);
    return o;
  }
  return v;
}

const clients = new Map();
let pending = 0;

function finished(c) {
  if (c.finished) return;
  c.finished = true;
  pending--;
  if (pending === 0) {
    // Let in-flight writes (a DISCONNECT packet, the engine's close) go out:
    // the process ends by itself once the managers have closed their engines.
    out({ ev: "exit" });
    setTimeout(() => process.exit(0), 2000).unref();
  }
}

function runCmd(c, cmd) {
  const target = cmd.target ? clients.get(cmd.target) : c;
  if (!target) throw new Error("unknown target " + cmd.target);
  const s = target.socket;
  const tag = cmd.tag || "";
  switch (cmd.op) {
    case "emit": {
      const args = build(cmd.args || []);
      if (!cmd.ack) {
        s.emit(cmd.event, ...args);
        return;
      }
      if (cmd.timeout) {
        // The promise API resolves with the first argument of the ack only.
        s.timeout(cmd.timeout)
          .emitWithAck(cmd.event, ...args)
          .then(
            (reply) => out({ ev: "ack", c: target.name, tag, args: show([reply]) }),
            (err) => out({ ev: "ack_error", c: target.name, tag, message: err.message }),
          );
        return;
      }
      s.emit(cmd.event, ...args, (...reply) =>
        out({ ev: "ack", c: target.name, tag, args: show(reply) }),
      );
      return;
    }
    case "burst": // count events numbered 0..count-1, synchronously
      for (let i = 0; i < cmd.count; i++) {
        // binary: odd numbers carry Buffer [i & 255] as a second argument
        if (cmd.size) s.emit(cmd.event, "x".repeat(cmd.size)); // size: strings instead
        else if (cmd.binary && i % 2 === 1) s.emit(cmd.event, i, Buffer.from([i & 255]));
        else s.emit(cmd.event, i);
      }
      return;
    case "burstAck": { // count events with acks; one line when all are answered
      let answered = 0;
      let wrong = 0;
      for (let i = 0; i < cmd.count; i++) {
        s.emit(cmd.event, i, (reply) => {
          if (reply !== i * 2) wrong++;
          if (++answered === cmd.count) out({ ev: "burstAck", c: target.name, tag, answered, wrong });
        });
      }
      return;
    }
    case "disconnect":
      setImmediate(() => s.disconnect());
      return;
    case "connect": // reconnect this namespace socket (same Manager)
      setImmediate(() => s.connect());
      return;
    case "closeEngine": // the whole Engine.IO connection, from the client
      setImmediate(() => s.io.engine.close());
      return;
    case "vanish": // the process dies without closing anything
      process.exit(0);
      return;
    case "state":
      out({
        ev: "state",
        c: target.name,
        tag,
        connected: s.connected,
        transport: s.io.engine ? s.io.engine.transport.name : "",
      });
      return;
    default:
      throw new Error("unknown op " + cmd.op);
  }
}

const managers = new Map(); // spec.manager -> Manager shared by several namespaces

// startBare opens a Manager (one Engine.IO connection) that joins no namespace.
function startBare(spec) {
  const name = spec.name;
  const opts = Object.assign({ reconnection: false }, spec.opts || {});
  const m = new Manager(baseURL, opts);
  const c = { name, finished: false };
  clients.set(name, c);
  pending++;
  m.on("open", () => out({ ev: "open", c: name, transport: m.engine.transport.name }));
  m.on("close", (reason) => {
    out({ ev: "manager_close", c: name, reason });
    finished(c);
  });
}

function start(spec) {
  if (spec.bare) return startBare(spec);
  const name = spec.name;
  const opts = Object.assign({ forceNew: true, reconnection: false }, spec.opts || {});
  opts.auth = Object.assign({ name }, opts.auth || {});
  let socket;
  let fresh = true;
  if (spec.manager) {
    let m = managers.get(spec.manager);
    fresh = !m;
    if (!m) {
      m = new Manager(baseURL, opts);
      managers.set(spec.manager, m);
    }
    socket = m.socket(spec.nsp || "/", { auth: opts.auth });
  } else {
    socket = io(baseURL + (spec.nsp || "/"), opts);
  }
  const c = { name, socket, finished: false };
  clients.set(name, c);
  pending++;

  const engine = socket.io.engine;
  if (fresh) {
    engine.on("open", () => out({ ev: "open", c: name, transport: engine.transport.name }));
    engine.on("upgrade", (t) =>
      out({ ev: "upgrade", c: name, transport: t.name, current: engine.transport.name }),
    );
  }
  if (spec.delayUpgradeMs && fresh) {
    // Hold the upgrade packet ("5") back once polling is paused: the
    // server sees a probed WebSocket whose upgrade is not complete yet.
    const polling = engine.transport;
    const pause = polling.pause;
    polling.pause = function (onPause) {
      return pause.call(this, () => {
        out({ ev: "paused", c: name });
        onPause();
      });
    };
    engine.on("upgrading", (t) => {
      const send = t.send;
      t.send = function (packets) {
        if (packets.length && packets[0].type === "upgrade") {
          setTimeout(() => send.call(this, packets), spec.delayUpgradeMs);
        } else {
          send.call(this, packets);
        }
      };
    });
  }
  if (spec.logPings && fresh) {
    engine.on("ping", () => out({ ev: "ping", c: name, transport: engine.transport.name }));
  }
  if (spec.noPong && fresh) {
    // The server never hears a pong: its heartbeat must time out.
    const send = engine._sendPacket;
    engine._sendPacket = function (type, ...rest) {
      if (type === "pong") return;
      return send.call(this, type, ...rest);
    };
  }
  if (spec.freezePingTimer && fresh) {
    // Pings are still answered but no longer re-arm the client's timer:
    // the client gives up pingInterval+pingTimeout after the handshake.
    const reset = engine._resetPingTimeout;
    let armed = false;
    engine._resetPingTimeout = function () {
      if (armed) return;
      armed = true;
      reset.call(this);
    };
  }
  if (fresh) socket.io.on("error", (err) =>
    out({
      ev: "manager_error",
      c: name,
      message: err.message,
      description: err.description === undefined ? null : show(err.description),
    }),
  );

  socket.on("connect", () => {
    out({ ev: "connect", c: name, id: socket.id, transport: engine.transport.name });
    for (const cmd of spec.onConnect || []) runCmd(c, cmd);
  });
  socket.on("connect_error", (err) => {
    out({
      ev: "connect_error",
      c: name,
      message: err.message,
      data: err.data === undefined ? null : show(err.data),
    });
    if (!opts.reconnection) finished(c);
  });
  socket.on("disconnect", (reason, description) => {
    let d = null;
    if (description && typeof description === "object") {
      d = description.description !== undefined ? String(description.description) : null;
    }
    const again = !!opts.reconnection && socket.active; // the Manager reconnects
    out({ ev: "disconnect", c: name, reason, description: d, active: again });
    if (!again) finished(c);
  });
  socket.on("cmd", (cmd, ack) => {
    runCmd(c, cmd);
    if (typeof ack === "function") ack();
  });
  socket.onAny((event, ...args) => {
    if (event === "cmd") return;
    let ack = null;
    if (args.length && typeof args[args.length - 1] === "function") ack = args.pop();
    out({ ev: "event", c: name, event, args: show(args), ack: ack !== null });
    if (ack && !spec.noAck && !event.startsWith("noack")) {
      if (event === "double") ack(args[0] * 2);
      else ack(...args);
    }
  });
}

for (const spec of config.clients || []) start(spec);
if (pending === 0) fatal("no clients");
