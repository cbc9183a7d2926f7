// The tutorial chat's flow (SPEC §2, namespace "/"), in plain DOM: the
// events and payloads of the tutorial's React client (join_room, chat,
// kick_user, exception; GET /api/rooms/:room), so that a browser test can
// drive login → room → chat → kick against sockgate.
import { io } from "socket.io-client";

type User = { userId: string; userName: string; socketId: string };
type Room = { name: string; host: User; users: User[] };
type ChatMsg = { user: User; timeSent: number; message: string; roomName: string; eventName: "chat" };

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const socket = io({ autoConnect: false });
let me: User | undefined;
let room = "";
let poll: ReturnType<typeof setInterval> | undefined;

function show(section: "login" | "lobby" | "chat") {
  for (const s of ["login", "lobby", "chat"]) $(s).hidden = s !== section;
}

function error(text: string) {
  $("error").textContent = text;
}

function emitAck(event: string, payload: unknown): Promise<void> {
  // The server acks true, or sends `exception` and no ack.
  return new Promise((resolve, reject) => {
    socket.timeout(5000).emit(event, payload, (err: Error | null, ok: boolean) => (err || !ok ? reject(err ?? new Error("refused")) : resolve()));
  });
}

async function refreshUsers() {
  const res = await fetch(`/api/rooms/${encodeURIComponent(room)}`);
  if (!res.ok) return;
  const r = (await res.json()) as Room;
  const list = $("users");
  list.replaceChildren(
    ...r.users.map((u) => {
      const li = document.createElement("li");
      li.dataset.user = u.userName;
      li.textContent = u.userName + (u.userId === r.host.userId ? " (host)" : "") + (u.userId === me?.userId ? " — you" : "");
      if (me && r.host.userId === me.userId && u.userId !== me.userId) {
        const kick = document.createElement("button");
        kick.textContent = "Kick";
        kick.dataset.kick = u.userName;
        kick.onclick = () =>
          void emitAck("kick_user", { user: me, userToKick: u, roomName: room, eventName: "kick_user" }).catch(() => undefined);
        li.append(kick);
      }
      return li;
    }),
  );
}

socket.on("chat", (m: ChatMsg) => {
  const li = document.createElement("li");
  li.textContent = `${m.user.userName}: ${m.message}`;
  if (m.user.userId === "serverId") li.className = "system";
  $("messages").append(li);
});

socket.on("kick_user", (p: { userToKick: User }) => {
  if (p.userToKick.socketId === socket.id) {
    clearInterval(poll);
    $("status").textContent = `You were kicked from ${room}.`;
    show("lobby");
  } else {
    void refreshUsers();
  }
});

socket.on("exception", (e: { status: string; message: string }) => error(e.message));
socket.on("connect", () => ($("status").textContent = `Connected as ${socket.id}`));

$("login-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const userName = $<HTMLInputElement>("username").value.trim();
  socket.connect();
  socket.once("connect", () => {
    me = { userId: crypto.randomUUID().replace(/-/g, "").slice(0, 16), userName, socketId: socket.id! };
    show("lobby");
  });
});

$("room-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  room = $<HTMLInputElement>("room").value.trim();
  try {
    await emitAck("join_room", { roomName: room, user: me, eventName: "join_room" });
  } catch {
    return; // the exception event said why
  }
  $("room-title").textContent = room;
  $("messages").replaceChildren();
  show("chat");
  await refreshUsers();
  clearInterval(poll);
  poll = setInterval(() => void refreshUsers(), 1000);
});

$("chat-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const input = $<HTMLInputElement>("message");
  const message = input.value;
  if (!message) return;
  try {
    await emitAck("chat", { user: me, timeSent: Date.now(), message, roomName: room, eventName: "chat" });
    input.value = "";
  } catch {
    /* exception shown */
  }
});
