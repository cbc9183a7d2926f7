// Runs @socket.io/redis-emitter operations given as a JSON array in argv,
// then prints "done". Usage: node emitter.js <redis url> <key> '<ops>'
// Each op: {op: "emit"|"join"|"leave"|"disconnect"|"sse", rooms, except,
// event, args, room, close}; {bin: hex} arguments become Buffers.
"use strict";
const { Emitter } = require("@socket.io/redis-emitter");
const { createClient } = require("redis");

const [redisURL, key, opsJSON] = process.argv.slice(2);
const unshow = (v) => {
  if (Array.isArray(v)) return v.map(unshow);
  if (v && typeof v === "object") {
    if (typeof v.bin === "string") return Buffer.from(v.bin, "hex");
    const o = {};
    for (const k of Object.keys(v)) o[k] = unshow(v[k]);
    return o;
  }
  return v;
};

async function main() {
  const client = createClient({ url: redisURL });
  await client.connect();
  const emitter = new Emitter(client, { key });
  for (const o of JSON.parse(opsJSON)) {
    let t = emitter;
    if (o.rooms && o.rooms.length) t = t.to(o.rooms);
    if (o.except && o.except.length) t = t.except(o.except);
    switch (o.op) {
      case "emit": t.emit(o.event, ...unshow(o.args || [])); break;
      case "join": t.socketsJoin(o.room); break;
      case "leave": t.socketsLeave(o.room); break;
      case "disconnect": t.disconnectSockets(!!o.close); break;
      case "sse": emitter.serverSideEmit(o.event, ...(o.args || [])); break;
    }
  }
  await client.quit(); // QUIT is answered after the publishes
  console.log("done");
}
main().catch((err) => { console.error(err); process.exit(1); });
