// Runs a client snippet copied verbatim from a seed (testdata/seeds/)
// against sockgate.
//
//   node seed_snippet.js <baseURL> <snippet file> <token>
//
// The snippet's text runs unchanged as the body of a function; only its
// module line `import io from 'socket.io-client'` is dropped (the module
// system's business), and the free names it expects from its page are
// provided: io (socket.io-client's, with the seed's origin
// http://localhost:3000 mapped to <baseURL>), accessToken, url (<baseURL>),
// displayMessage and console. Prints one JSON line per observation:
// {log} for console.log, {display} for displayMessage, {connected: nsp}
// when a socket the snippet created connects, {connectError}; the test
// stops the script when it has seen enough.
"use strict";
const fs = require("fs");
const { io: realIO } = require("socket.io-client");

const [base, file, token] = process.argv.slice(2);
const out = (o) => process.stdout.write(JSON.stringify(o) + "\n");

function io(uri, opts) {
  const socket = realIO(String(uri).replace(/^http:\/\/localhost:3000/, base), opts);
  socket.on("connect", () => out({ connected: socket.nsp }));
  socket.on("connect_error", (err) => out({ connectError: err.message }));
  return socket;
}

const body = fs
  .readFileSync(file, "utf8")
  .split("\n")
  .filter((line) => !/^import .* from ['"]socket\.io-client['"];?\s*$/.test(line))
  .join("\n");
const page = {
  log: (...args) => out({ log: args.map(String).join(" ") }),
  error: (...args) => out({ error: args.map(String).join(" ") }),
};
new Function("io", "accessToken", "url", "displayMessage", "console", body)(
  io,
  token,
  base,
  (message) => out({ display: message }),
  page,
);
