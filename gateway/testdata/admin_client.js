// Interactive socket.io-client for the admin namespace tests.
//
//   node admin_client.js <baseURL>
//
// Reads JSON commands on stdin, one a line:
//   {"op":"connect","c":"a","ns":"/admin","auth":{...},"base":"..."}
//   {"op":"emit","c":"a","event":"join","args":[...],"ack":false}
//   {"op":"disconnect","c":"a"}
// and prints one JSON line per thing observed:
//   {"c":"a","op":"connect","id":"..."} / {"c":"a","op":"connect_error","message":"..."}
//   {"c":"a","op":"event","event":"...","args":[...]}
//   {"c":"a","op":"disconnect","reason":"..."}
//   {"c":"a","op":"ack","event":"...","args":[...]} (emits with "ack":true)
"use strict";
const { io } = require("socket.io-client");
const readline = require("readline");

const [base] = process.argv.slice(2);
const clients = {};
const out = (o) => process.stdout.write(JSON.stringify(o) + "\n");

function connect(s) {
  const socket = io((s.base || base) + s.ns, {
    forceNew: true,
    reconnection: false,
    auth: s.auth || {},
    transports: s.transports,
  });
  clients[s.c] = socket;
  socket.onAny((event, ...args) => out({ c: s.c, op: "event", event, args }));
  socket.on("connect", () => out({ c: s.c, op: "connect", id: socket.id }));
  socket.on("connect_error", (err) => out({ c: s.c, op: "connect_error", message: err.message }));
  socket.on("disconnect", (reason) => out({ c: s.c, op: "disconnect", reason }));
}

readline.createInterface({ input: process.stdin }).on("line", (line) => {
  const s = JSON.parse(line);
  switch (s.op) {
    case "connect":
      connect(s);
      break;
    case "emit":
      if (s.ack) {
        clients[s.c].emit(s.event, ...(s.args || []), (...res) => out({ c: s.c, op: "ack", event: s.event, args: res }));
      } else {
        clients[s.c].emit(s.event, ...(s.args || []));
      }
      break;
    case "disconnect":
      clients[s.c].disconnect();
      break;
    default:
      out({ op: "error", message: "unknown op " + s.op });
  }
});
out({ op: "ready" });
