"use strict";
// client.js: one socket.io-client 4.8.x socket with reconnection on, for
// sockgate's connection-state recovery tests (socketio/recovery_compat_test.go).
//
//   node client.js <base url> <json config>
//
// config: { name, nsp, transports, reconnectionDelay }
//
// It prints one JSON line per observation:
//
//   {"ev":"connect","id":...,"recovered":bool,"transport":t}
//   {"ev":"event","event":e,"args":[...]}          (offsets included: the last argument)
//   {"ev":"disconnect","reason":r}
//   {"ev":"done","tag":t}                           a command ran
//   {"ev":"fatal","message":m}
//
// and takes JSON commands on stdin, one a line:
//
//   {"op":"cut"}          kill the TCP connection of the current transport (no close packet)
//   {"op":"closeEngine"}  close the Engine.IO connection cleanly (the client suite's recovery case)
//   {"op":"emit","event":e,"args":[...],"tag":t}   emit, with an ack printed as done
//   {"op":"exit"}

const { io } = require("socket.io-client");
const net = require("net");
const readline = require("readline");

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
setTimeout(() => fatal("watchdog: script still running"), 60000).unref();

const socket = io(baseURL + (config.nsp || "/"), {
  forceNew: true,
  transports: config.transports || ["websocket"],
  reconnectionDelay: config.reconnectionDelay || 100,
  reconnectionDelayMax: config.reconnectionDelay || 100,
  randomizationFactor: 0,
  auth: { name: config.name || "c" },
});

socket.on("connect", () =>
  out({ ev: "connect", id: socket.id, recovered: !!socket.recovered, transport: socket.io.engine.transport.name }),
);
socket.on("disconnect", (reason) => out({ ev: "disconnect", reason }));
socket.on("connect_error", (err) => out({ ev: "connect_error", message: err.message }));
socket.onAny((event, ...args) => out({ ev: "event", event, args }));

// cut kills every TCP connection of the client (destroyed, no close
// packet, no WebSocket close frame): the server sees the socket close
// (WebSocket) or nothing at all (a polling session without its long poll,
// until its ping timeout); the client sees a transport error or close and
// reconnects.
const sockets = new Set();
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  sockets.add(this);
  this.once("close", () => sockets.delete(this));
  return connect.apply(this, args);
};

function cut() {
  const t = socket.io.engine.transport;
  if (t.name === "websocket") {
    t.ws._socket.destroy(); // ws's own net.Socket
    return;
  }
  if (sockets.size === 0) throw new Error("no TCP connection to cut");
  for (const s of sockets) s.destroy(); // the polling requests' sockets
}

readline.createInterface({ input: process.stdin }).on("line", (line) => {
  const cmd = JSON.parse(line);
  switch (cmd.op) {
    case "cut":
      cut();
      out({ ev: "done", tag: cmd.tag || "cut" });
      return;
    case "closeEngine":
      socket.io.engine.close();
      out({ ev: "done", tag: cmd.tag || "closeEngine" });
      return;
    case "emit":
      socket.emit(cmd.event, ...(cmd.args || []), () => out({ ev: "done", tag: cmd.tag || cmd.event }));
      return;
    case "exit":
      socket.disconnect();
      process.exit(0);
      return;
    default:
      fatal("unknown op " + cmd.op);
  }
});
