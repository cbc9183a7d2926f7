// ChatClient is the app's state and its one Socket.IO connection to "/chat"
// (SPEC §3). React reads snapshots of it (useSyncExternalStore); every
// change makes a new State object.
//
// Recovery: the handshake auth carries the newest message id seen
// (lastMessageId); on a reconnect the server replays what was missed as
// ordinary "message" events, then sends "recovered". Messages are merged by
// id, so a message seen twice (replay and live, or history and live) shows
// once.
import { io, type Socket } from "socket.io-client";
import { Api, type Chat, type Me, type Member, type Message } from "./api";

export type Conn = "connecting" | "online" | "reconnecting" | "refused";

export type ChatView = {
  messages: Message[]; // oldest first
  loaded: boolean; // the newest page of history is in
  hasMore: boolean; // older history remains
  loadingOlder: boolean;
};

export type State = {
  me: Me;
  conn: Conn;
  connError?: string;
  chats: Chat[];
  activeId?: string;
  views: Record<string, ChatView>;
  members: Record<string, Member[]>;
  online: Record<string, boolean>;
  typing: Record<string, Record<string, number>>; // chatId → userId → expiry (ms)
  reads: Record<string, Record<string, string>>; // chatId → userId → last read message id
  notice?: string;
};

const pageSize = 30;
const typingTTL = 6000;
const chatsPoll = 4000;

type Ack<T> = { success: true } & T;
type Refusal = { success: false; error: { code: string; message: string } };

const emptyView: ChatView = { messages: [], loaded: false, hasMore: false, loadingOlder: false };

/** merge adds msgs to list (oldest first) by id, keeping seq order. */
function merge(list: Message[], msgs: Message[]): Message[] {
  const byId = new Map(list.map((m) => [m.id, m]));
  let changed = false;
  for (const m of msgs) {
    if (!byId.has(m.id)) {
      byId.set(m.id, m);
      changed = true;
    }
  }
  if (!changed) return list;
  return [...byId.values()].sort((a, b) => a.seq - b.seq);
}

export class ChatClient {
  readonly api: Api;
  private socket: Socket;
  private state: State;
  private listeners = new Set<() => void>();
  private lastMessageId = "";
  private joined = new Set<string>();
  private pollTimer?: ReturnType<typeof setInterval>;
  private typingTimer?: ReturnType<typeof setInterval>;
  private refreshing?: Promise<void>;

  constructor(token: string, me: Me) {
    this.api = new Api(token);
    this.state = {
      me, conn: "connecting", chats: [], views: {}, members: {}, online: {}, typing: {}, reads: {},
    };
    this.socket = io("/chat", {
      // A function, so that every reconnection presents the newest id seen.
      auth: (cb) => cb(this.lastMessageId ? { token, lastMessageId: this.lastMessageId } : { token }),
      reconnectionDelay: 500,
      reconnectionDelayMax: 3000,
    });
    this.wire();
    this.pollTimer = setInterval(() => this.state.conn === "online" && void this.refreshChats(), chatsPoll);
    this.typingTimer = setInterval(() => this.expireTyping(), 1000);
  }

  // ---- store plumbing ----

  subscribe = (fn: () => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };

  snapshot = () => this.state;

  private set(patch: Partial<State> | ((s: State) => Partial<State>)) {
    const p = typeof patch === "function" ? patch(this.state) : patch;
    this.state = { ...this.state, ...p };
    for (const fn of this.listeners) fn();
  }

  private view(chatId: string): ChatView {
    return this.state.views[chatId] ?? emptyView;
  }

  private setView(chatId: string, v: Partial<ChatView>) {
    this.set((s) => ({ views: { ...s.views, [chatId]: { ...(s.views[chatId] ?? emptyView), ...v } } }));
  }

  close() {
    clearInterval(this.pollTimer);
    clearInterval(this.typingTimer);
    this.socket.disconnect();
    this.listeners.clear();
  }

  // ---- socket ----

  private wire() {
    const s = this.socket;
    s.on("connect", () => {
      this.set({ conn: "online", connError: undefined });
      this.joined.clear();
      void this.refreshChats().then(() => this.refreshAllMembers());
    });
    s.on("disconnect", (reason) => {
      if (reason === "io client disconnect") return;
      this.set({ conn: "reconnecting" });
      // socket.io-client does not retry after a server-side disconnect (the
      // token expired, say); try once more: a refused token then shows as
      // "refused" through connect_error.
      if (reason === "io server disconnect") setTimeout(() => this.socket.connect(), 1000);
    });
    s.io.on("reconnect_attempt", () => this.set({ conn: "reconnecting" }));
    s.on("connect_error", (err: Error & { data?: { code?: string; message?: string } }) => {
      if (err.data?.code === "unauthorized") {
        // Refused by the server: retrying with the same token cannot succeed.
        this.set({ conn: "refused", connError: err.data.message ?? err.message });
        return;
      }
      this.set({ conn: "reconnecting", connError: err.message });
    });
    s.on("message", (m: Message) => this.onMessage(m));
    s.on("recovered", (r: { count: number; lastMessageId: string; complete: boolean }) => {
      if (r.count > 0) this.notify(`Caught up: ${r.count} missed message${r.count === 1 ? "" : "s"}`);
      if (!r.complete) {
        // More was missed than the server replays: start each history afresh
        // rather than show a gap.
        this.set({ views: {} });
        if (this.state.activeId) void this.loadLatest(this.state.activeId);
      }
    });
    s.on("typing", (t: { chatId: string; userId: string; isTyping: boolean }) => {
      this.set((st) => {
        const chat = { ...(st.typing[t.chatId] ?? {}) };
        if (t.isTyping) chat[t.userId] = Date.now() + typingTTL;
        else delete chat[t.userId];
        return { typing: { ...st.typing, [t.chatId]: chat } };
      });
    });
    s.on("read", (r: { chatId: string; userId: string; messageId: string }) => this.setRead(r.chatId, r.userId, r.messageId));
    s.on("presence", (p: { userId: string; status: "online" | "offline" }) =>
      this.set((st) => ({ online: { ...st.online, [p.userId]: p.status === "online" } })),
    );
    s.on("exception", (e: { message?: string }) => e.message && this.notify(e.message));
  }

  private notify(text: string) {
    this.set({ notice: text });
    setTimeout(() => this.state.notice === text && this.set({ notice: undefined }), 6000);
  }

  private setRead(chatId: string, userId: string, messageId: string) {
    this.set((st) => {
      const marks = st.reads[chatId] ?? {};
      if ((marks[userId] ?? "") >= messageId) return {}; // ids sort like seqs within a chat
      return { reads: { ...st.reads, [chatId]: { ...marks, [userId]: messageId } } };
    });
  }

  private onMessage(m: Message) {
    if (m.id > this.lastMessageId) this.lastMessageId = m.id;
    const known = this.state.chats.some((c) => c.id === m.chatId);
    if (this.state.views[m.chatId]?.loaded) {
      this.setView(m.chatId, { messages: merge(this.view(m.chatId).messages, [m]) });
    }
    // The sender stops typing when their message arrives.
    if (this.state.typing[m.chatId]?.[m.senderId]) {
      this.set((st) => {
        const chat = { ...st.typing[m.chatId] };
        delete chat[m.senderId];
        return { typing: { ...st.typing, [m.chatId]: chat } };
      });
    }
    this.set((st) => ({
      chats: st.chats
        .map((c) => c.id !== m.chatId || (c.lastMessageId ?? "") >= m.id ? c : {
          ...c, lastMessageId: m.id, lastSeq: m.seq, activityAt: m.timestamp,
          unreadCount: (c.unreadCount ?? 0) + (m.senderId !== st.me.id && st.activeId !== m.chatId ? 1 : 0),
        })
        .sort((a, b) => b.activityAt.localeCompare(a.activityAt)),
    }));
    if (!known) void this.refreshChats();
    if (m.chatId === this.state.activeId) this.markRead(m.chatId);
  }

  private emit<T>(event: string, payload: unknown): Promise<T> {
    return new Promise((resolve, reject) => {
      this.socket.timeout(10000).emit(event, payload, (err: Error | null, reply: Ack<T> | Refusal) => {
        if (err) reject(err);
        else if (!reply.success) reject(new Error(reply.error.message));
        else resolve(reply as T);
      });
    });
  }

  private join(chatId: string) {
    if (this.joined.has(chatId) || !this.socket.connected) return;
    this.joined.add(chatId);
    this.emit("join", { chatId }).catch((e) => {
      this.joined.delete(chatId);
      this.notify(String(e.message ?? e));
    });
  }

  // ---- chats and members ----

  /** refreshChats reloads the list (unread counts from the server) and joins new chats. */
  refreshChats(): Promise<void> {
    this.refreshing ??= (async () => {
      try {
        const page = await this.api.chats();
        const fresh = page.data.filter((c) => !this.state.chats.some((k) => k.id === c.id));
        this.set((st) => ({
          chats: page.data.map((c) => (c.id === st.activeId ? { ...c, unreadCount: 0 } : c)),
        }));
        for (const c of page.data) this.join(c.id);
        for (const c of fresh) if (this.state.members[c.id] === undefined) void this.refreshMembers(c.id);
        if (!this.lastMessageId) {
          // First load: missed messages are those after the newest one the list shows.
          for (const c of page.data) if ((c.lastMessageId ?? "") > this.lastMessageId) this.lastMessageId = c.lastMessageId!;
        }
      } catch (e) {
        this.notify(`Loading chats failed: ${(e as Error).message}`);
      } finally {
        this.refreshing = undefined;
      }
    })();
    return this.refreshing;
  }

  private async refreshAllMembers() {
    await Promise.all(this.state.chats.map((c) => this.refreshMembers(c.id)));
  }

  async refreshMembers(chatId: string) {
    try {
      const ms = await this.api.members(chatId);
      this.set((st) => {
        const online = { ...st.online };
        for (const m of ms) if (m.userId !== st.me.id) online[m.userId] = m.online;
        online[st.me.id] = st.conn === "online";
        return { members: { ...st.members, [chatId]: ms }, online };
      });
      for (const m of ms) if (m.lastReadMessageId) this.setRead(chatId, m.userId, m.lastReadMessageId);
    } catch (e) {
      this.notify(`Loading members failed: ${(e as Error).message}`);
    }
  }

  async createChat(title: string, memberIds: string[]) {
    const c = await this.api.createChat(title, memberIds);
    this.set((st) => ({ chats: [c, ...st.chats.filter((k) => k.id !== c.id)] }));
    this.join(c.id);
    await this.refreshMembers(c.id);
    this.select(c.id);
  }

  select(chatId: string) {
    this.set((st) => ({
      activeId: chatId,
      chats: st.chats.map((c) => (c.id === chatId ? { ...c, unreadCount: 0 } : c)),
    }));
    if (!this.view(chatId).loaded) void this.loadLatest(chatId);
    else this.markRead(chatId);
    if (!this.state.members[chatId]) void this.refreshMembers(chatId);
  }

  // ---- history ----

  async loadLatest(chatId: string) {
    try {
      const page = await this.api.messages(chatId, pageSize);
      const v = this.view(chatId);
      this.setView(chatId, {
        messages: merge(v.messages, page.data),
        loaded: true,
        hasMore: v.loaded ? v.hasMore : page.hasMore,
      });
      const newest = page.data[0];
      if (newest && newest.id > this.lastMessageId) this.lastMessageId = newest.id;
      if (chatId === this.state.activeId) this.markRead(chatId);
    } catch (e) {
      this.notify(`Loading history failed: ${(e as Error).message}`);
    }
  }

  /** loadOlder pages back with the before cursor (infinite scroll). */
  async loadOlder(chatId: string) {
    const v = this.view(chatId);
    if (!v.loaded || !v.hasMore || v.loadingOlder || v.messages.length === 0) return;
    this.setView(chatId, { loadingOlder: true });
    try {
      const page = await this.api.messages(chatId, pageSize, v.messages[0].id);
      this.setView(chatId, {
        messages: merge(this.view(chatId).messages, page.data),
        hasMore: page.hasMore,
        loadingOlder: false,
      });
    } catch (e) {
      this.setView(chatId, { loadingOlder: false });
      this.notify(`Loading older messages failed: ${(e as Error).message}`);
    }
  }

  // ---- sending ----

  private markRead(chatId: string) {
    const msgs = this.view(chatId).messages;
    const newest = msgs[msgs.length - 1];
    if (!newest || document.visibilityState !== "visible" || !this.socket.connected) return;
    const mine = this.state.reads[chatId]?.[this.state.me.id] ?? "";
    if (mine >= newest.id) return;
    this.setRead(chatId, this.state.me.id, newest.id);
    this.emit("read", { chatId, messageId: newest.id }).catch(() => {
      /* a mark that did not make it is sent again with the next message */
    });
  }

  async send(chatId: string, content: string, files: File[]) {
    const attachments: string[] = [];
    for (const f of files) attachments.push((await this.api.upload(chatId, f)).id);
    const clientMsgId = crypto.randomUUID();
    const reply = await this.emit<{ message: Message }>("chat message", { chatId, content, attachments, clientMsgId });
    this.onMessage(reply.message);
  }

  typing(chatId: string, isTyping: boolean) {
    if (this.socket.connected) this.socket.emit("typing", { chatId, isTyping });
  }

  private expireTyping() {
    const now = Date.now();
    let stale = false;
    for (const chat of Object.values(this.state.typing)) for (const t of Object.values(chat)) if (t < now) stale = true;
    if (!stale) return;
    this.set((st) => {
      const typing: State["typing"] = {};
      for (const [chatId, chat] of Object.entries(st.typing)) {
        typing[chatId] = Object.fromEntries(Object.entries(chat).filter(([, t]) => t >= now));
      }
      return { typing };
    });
  }
}
