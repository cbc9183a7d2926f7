// End-to-end test of the stored chats of the sockgate binary's server:
//   node chats.js <baseURL> <alice token> <bob token> <chatId>
// A /chat client without a token is refused; alice (auth.token) and bob
// (Authorization: Bearer) join a chat, alice sends a message, bob receives
// it. Prints one JSON line per observation, then {"op":"done"}.
"use strict";
const { io } = require("socket.io-client");
const [base, alice, bob, chatId] = process.argv.slice(2);
const out = (o) => process.stdout.write(JSON.stringify(o) + "\n");

function connect(opts) {
  const s = io(base + "/chat", { forceNew: true, reconnection: false, ...opts });
  return new Promise((resolve, reject) => {
    s.once("connect", () => resolve(s));
    s.once("connect_error", reject);
  });
}

(async () => {
  try {
    await connect({});
    out({ op: "refused", message: "connected without a token" });
  } catch (err) {
    out({ op: "refused", message: err.message + " " + (err.data && err.data.code) });
  }
  const a = await connect({ auth: { token: alice } });
  const b = await connect({ extraHeaders: { Authorization: "Bearer " + bob } });
  const joins = [
    await a.timeout(5000).emitWithAck("join", { chatId }),
    await b.timeout(5000).emitWithAck("join", { chatId }),
  ];
  out({ op: "joined", acks: joins.map((j) => j.success === true && j.chatId === chatId) });
  const got = new Promise((resolve) => b.once("message", resolve));
  const ack = await a.timeout(5000).emitWithAck("chat message", { chatId, content: "hello bob", clientMsgId: "e2e-1" });
  out({ op: "sent", ack, received: await got });
  a.disconnect();
  b.disconnect();
  out({ op: "done" });
  process.exit(0);
})().catch((err) => {
  out({ op: "error", message: String((err && err.stack) || err) });
  process.exit(1);
});
