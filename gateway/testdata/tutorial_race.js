// The tutorial React client's join-then-GET race (issue 10, item 6).
//
//   node tutorial_race.js <baseURL> <iterations> <concurrency> <transports>
//
// Each iteration does what the client's Chat page does on "connect": emit
// join_room (ack awaited, 30 s timeout) and, without waiting for the ack,
// GET /api/rooms/:room at once. A host creates a new room, then a guest
// joins it; each fetch must find its own socket in the room. transports is
// "default" (polling, then upgrade: the browser's), "websocket" or
// "polling". Prints one JSON line {iterations, failed (iterations with a
// miss), host404, hostMissing, guestMissing, failures: [first few]}.
"use strict";
const { io } = require("socket.io-client");

const [base, itersArg, concArg, transports] = process.argv.slice(2);
const iterations = Number(itersArg);
const concurrency = Number(concArg);

// visit connects one tutorial socket, joins room and fetches it at once.
function visit(room, userId) {
  return new Promise((resolve, reject) => {
    const opts = { forceNew: true, reconnection: false, timeout: 10000 };
    if (transports !== "default") opts.transports = [transports];
    const socket = io(base + "/", opts);
    socket.on("connect_error", (err) => reject(new Error("connect_error: " + err.message)));
    socket.on("connect", () => {
      const joined = new Promise((ok, fail) => {
        socket.timeout(30000).emit(
          "join_room",
          { roomName: room, user: { userId, userName: userId, socketId: socket.id }, eventName: "join_room" },
          (err, res) => (err || res !== true ? fail(new Error("join_room: " + (err || res))) : ok()),
        );
      });
      // The client's room query is enabled by setIsConnected(true), set
      // right after the emit: the GET leaves before the ack.
      const got = fetch(base + "/api/rooms/" + room).then(async (r) => ({ status: r.status, body: await r.text() }));
      Promise.all([joined, got]).then(([, r]) => resolve({ socket, ...r }), reject);
    });
  });
}

function check(r, sid) {
  if (r.status === 404) return "404";
  if (r.status !== 200) return "status " + r.status;
  const room = JSON.parse(r.body);
  return room.users.some((u) => u.socketId === sid) ? "" : "missing";
}

async function iteration(i, sum) {
  const room = "race" + i;
  const host = await visit(room, "h" + i);
  const h = check(host, host.socket.id);
  const guest = await visit(room, "g" + i);
  const g = check(guest, guest.socket.id);
  if (h === "404") sum.host404++;
  else if (h) sum.hostMissing++;
  if (g) sum.guestMissing++;
  if (h || g) sum.failed++;
  if ((h || g) && sum.failures.length < 5) sum.failures.push({ room, host: h || "ok", guest: g || "ok", guestBody: guest.body });
  host.socket.disconnect();
  guest.socket.disconnect();
}

async function main() {
  const sum = { iterations, failed: 0, host404: 0, hostMissing: 0, guestMissing: 0, failures: [] };
  let next = 0;
  const worker = async () => {
    while (next < iterations) await iteration(next++, sum);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  process.stdout.write(JSON.stringify(sum) + "\n");
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stdout.write(JSON.stringify({ error: String(err && err.stack ? err.stack : err) }) + "\n");
    process.exit(1);
  },
);
