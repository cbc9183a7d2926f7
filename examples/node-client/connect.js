// Connects to a running sockgate (default http://localhost:3000) on "/",
// "/rooms" and "/chat", prints each socket id and its length, exercises one
// event per namespace, and exits non-zero if anything is off.
//
//   node connect.js [url]
const { io } = require("socket.io-client");

const url = process.argv[2] || "http://localhost:3000";
const timeoutMs = 10000;

function connect(nsp) {
  return new Promise((resolve, reject) => {
    const socket = io(url + nsp, { forceNew: true, reconnection: false });
    const timer = setTimeout(() => reject(new Error(nsp + ": connect timeout")), timeoutMs);
    socket.on("connect", () => { clearTimeout(timer); resolve(socket); });
    socket.on("connect_error", (err) => { clearTimeout(timer); reject(new Error(nsp + ": " + err.message)); });
  });
}

async function main() {
  let failed = false;
  const check = (ok, what) => { console.log((ok ? "ok   " : "FAIL ") + what); if (!ok) failed = true; };

  const root = await connect("/");
  check(root.id.length === 20, `/       id ${root.id} (${root.id.length} chars)`);
  const user = { userId: "example-user", userName: "Example", socketId: root.id };
  const joined = await root.timeout(5000).emitWithAck("join_room", { roomName: "lobby1", user, eventName: "join_room" });
  check(joined === true, `/       join_room acked ${JSON.stringify(joined)}`);

  const rooms = await connect("/rooms");
  check(rooms.id.length === 20, `/rooms  id ${rooms.id} (${rooms.id.length} chars)`);
  const jr = await rooms.timeout(5000).emitWithAck("joinRoom", { room: "general", username: "example" });
  check(jr && jr.success === true, `/rooms  joinRoom acked ${JSON.stringify(jr)}`);

  const chat = await connect("/chat");
  check(chat.id.length === 20, `/chat   id ${chat.id} (${chat.id.length} chars)`);
  const jc = await chat.timeout(5000).emitWithAck("joinChat", { username: "example" });
  check(jc && jc.success === true, `/chat   joinChat acked ${JSON.stringify(jc)}`);

  for (const s of [root, rooms, chat]) s.disconnect();
  process.exit(failed ? 1 : 0);
}

main().catch((err) => { console.error("FAIL " + err.message); process.exit(1); });
