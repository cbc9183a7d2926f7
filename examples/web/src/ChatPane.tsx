import { useEffect, useLayoutEffect, useRef, useState } from "react";
import type { Attachment, Chat, Message } from "./api";
import type { ChatClient, State } from "./client";
import { initials, shortTime, size } from "./format";

export function ChatPane({ client, state, chat }: { client: ChatClient; state: State; chat: Chat }) {
  const view = state.views[chat.id];
  const members = state.members[chat.id] ?? [];
  const nameOf = (id: string) => members.find((m) => m.userId === id)?.name || id;
  const typers = Object.keys(state.typing[chat.id] ?? {}).filter((id) => id !== state.me.id);
  const [lightbox, setLightbox] = useState<{ src: string; name: string } | null>(null);

  return (
    <main className="pane">
      <header className="pane-head">
        <div>
          <h2>{chat.title || "Untitled chat"}</h2>
          <div className="members" aria-label="Members">
            {members.map((m) => {
              // Offline, nobody's presence is known: every dot goes grey.
              const on = state.conn === "online" && (m.userId === state.me.id || !!state.online[m.userId]);
              return (
              <span key={m.userId} className="member" data-testid={`member-${m.userId}`} data-online={on}>
                <span className={`dot inline ${on ? "on" : "off"}`} />
                {m.userId === state.me.id ? "You" : m.name || m.userId}
              </span>
              );
            })}
          </div>
        </div>
        {chat.archived && <span className="pill">archived</span>}
      </header>
      <Messages client={client} state={state} chat={chat} nameOf={nameOf} onOpen={setLightbox} />
      <div className="typing" aria-live="polite" data-testid="typing">
        {typers.length > 0 && (
          <>
            <span className="dots">
              <i />
              <i />
              <i />
            </span>
            {typers.map(nameOf).join(", ")} {typers.length === 1 ? "is" : "are"} typing…
          </>
        )}
      </div>
      {!chat.archived && <Composer client={client} chatId={chat.id} disabled={!view?.loaded} />}
      {lightbox && (
        <div className="lightbox" role="dialog" aria-label={lightbox.name} onClick={() => setLightbox(null)}>
          <img src={lightbox.src} alt={lightbox.name} />
          <span>{lightbox.name} — click to close</span>
        </div>
      )}
    </main>
  );
}

function Messages({
  client, state, chat, nameOf, onOpen,
}: {
  client: ChatClient;
  state: State;
  chat: Chat;
  nameOf: (id: string) => string;
  onOpen: (img: { src: string; name: string }) => void;
}) {
  const view = state.views[chat.id];
  const msgs = view?.messages ?? [];
  const box = useRef<HTMLDivElement>(null);
  const prev = useRef({ first: "", last: "", height: 0, top: 0 });

  // Keep the reader's place: older messages prepended keep the viewport
  // where it was; new ones at the end scroll down if the reader was at the
  // bottom (or sent it).
  useLayoutEffect(() => {
    const el = box.current;
    if (!el || msgs.length === 0) return;
    const first = msgs[0].id, last = msgs[msgs.length - 1].id;
    const p = prev.current;
    if (p.first && first < p.first) {
      el.scrollTop = el.scrollHeight - p.height + p.top;
    } else if (last !== p.last) {
      const nearBottom = p.height - p.top - el.clientHeight < 120;
      if (!p.last || nearBottom || msgs[msgs.length - 1].senderId === state.me.id) el.scrollTop = el.scrollHeight;
    }
    prev.current = { first, last, height: el.scrollHeight, top: el.scrollTop };
    // A page too short to scroll cannot be scrolled up: fetch older at once.
    if (el.scrollHeight <= el.clientHeight) void client.loadOlder(chat.id);
  }, [msgs, state.me.id, client, chat.id]);

  const others = (state.members[chat.id] ?? []).filter((m) => m.userId !== state.me.id);
  const reads = state.reads[chat.id] ?? {};
  const readersOf = (m: Message) => others.filter((o) => (reads[o.userId] ?? "") >= m.id);
  const lastSeenOwn = [...msgs].reverse().find((m) => m.senderId === state.me.id && readersOf(m).length > 0);

  return (
    <div
      className="messages"
      ref={box}
      data-testid="messages"
      onScroll={(e) => {
        const el = e.currentTarget;
        prev.current.top = el.scrollTop;
        if (el.scrollTop < 80) void client.loadOlder(chat.id);
      }}
    >
      {view?.loadingOlder && <div className="hint">Loading older messages…</div>}
      {view?.loaded && !view.hasMore && <div className="hint">Beginning of the conversation</div>}
      {!view?.loaded && <div className="hint">Loading…</div>}
      {msgs.map((m, i) => {
        const mine = m.senderId === state.me.id;
        const grouped = i > 0 && msgs[i - 1].senderId === m.senderId;
        const readers = mine ? readersOf(m) : [];
        return (
          <div key={m.id} className={`msg ${mine ? "mine" : "theirs"} ${grouped ? "grouped" : ""}`} data-seq={m.seq}>
            {!mine && !grouped && (
              <div className="avatar small" aria-hidden>
                {initials(m.sender.fullName || nameOf(m.senderId))}
              </div>
            )}
            <div className="bubble">
              {!mine && !grouped && <div className="sender">{m.sender.fullName || nameOf(m.senderId)}</div>}
              {m.content && <div className="content">{m.content}</div>}
              {m.attachments.map((a) => (
                <AttachmentView key={a.id} client={client} a={a} onOpen={onOpen} />
              ))}
              <div className="stamp">
                {shortTime(m.timestamp)}
                {mine && (
                  <span className={`ticks ${readers.length === others.length && others.length > 0 ? "read" : ""}`}>
                    {readers.length > 0 ? "✓✓" : "✓"}
                  </span>
                )}
              </div>
              {m === lastSeenOwn && (
                <div className="seen" data-testid="seen">
                  Seen by {readers.map((r) => r.name || r.userId).join(", ")}
                </div>
              )}
            </div>
          </div>
        );
      })}
    </div>
  );
}

function AttachmentView({
  client, a, onOpen,
}: {
  client: ChatClient;
  a: Attachment;
  onOpen: (img: { src: string; name: string }) => void;
}) {
  const isImage = a.contentType.startsWith("image/");
  const [src, setSrc] = useState("");
  useEffect(() => {
    if (!isImage) return;
    let url = "";
    let live = true;
    client.api.blob(a.url).then((b) => {
      url = URL.createObjectURL(b);
      if (live) setSrc(url);
    }).catch(() => undefined);
    return () => {
      live = false;
      if (url) URL.revokeObjectURL(url);
    };
  }, [client, a.url, isImage]);

  const download = async () => {
    const b = await client.api.blob(a.url);
    const url = URL.createObjectURL(b);
    const link = document.createElement("a");
    link.href = url;
    link.download = a.name;
    link.click();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  };

  return (
    <div className="attachment">
      {isImage && (
        <button className="thumb" onClick={() => src && onOpen({ src, name: a.name })} aria-label={`Open ${a.name}`}>
          {src ? <img src={src} alt={a.name} /> : <span className="hint">loading image…</span>}
        </button>
      )}
      <button className="file" onClick={download} title="Download">
        ⬇ {a.name} <small>{size(a.size)}</small>
      </button>
    </div>
  );
}

function Composer({ client, chatId, disabled }: { client: ChatClient; chatId: string; disabled: boolean }) {
  const [text, setText] = useState("");
  const [files, setFiles] = useState<File[]>([]);
  const [sending, setSending] = useState(false);
  const [error, setError] = useState("");
  const typingSince = useRef(0);
  const idle = useRef<ReturnType<typeof setTimeout>>(undefined);
  const fileInput = useRef<HTMLInputElement>(null);

  const stopTyping = () => {
    clearTimeout(idle.current);
    if (typingSince.current) client.typing(chatId, false);
    typingSince.current = 0;
  };
  useEffect(() => stopTyping, []); // eslint-disable-line react-hooks/exhaustive-deps

  const onType = (v: string) => {
    setText(v);
    const now = Date.now();
    // Announce at most every 2 s while typing; stop after 3 s of quiet.
    if (v && now - typingSince.current > 2000) {
      client.typing(chatId, true);
      typingSince.current = now;
    }
    clearTimeout(idle.current);
    idle.current = setTimeout(stopTyping, 3000);
    if (!v) stopTyping();
  };

  const send = async () => {
    if (sending || (!text.trim() && files.length === 0)) return;
    setSending(true);
    setError("");
    stopTyping();
    try {
      await client.send(chatId, text, files);
      setText("");
      setFiles([]);
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setSending(false);
    }
  };

  return (
    <form
      className="composer"
      onSubmit={(e) => {
        e.preventDefault();
        void send();
      }}
    >
      {files.length > 0 && (
        <div className="pending">
          {files.map((f, i) => (
            <span key={i} className="chip">
              {f.name} <small>{size(f.size)}</small>
              <button type="button" onClick={() => setFiles(files.filter((_, j) => j !== i))} aria-label="Remove">
                ×
              </button>
            </span>
          ))}
        </div>
      )}
      {error && <div className="error">{error}</div>}
      <div className="row">
        <button type="button" className="ghost attach" onClick={() => fileInput.current?.click()} title="Attach a file" aria-label="Attach a file">
          <svg width="20" height="20" viewBox="0 0 24 24" fill="none" stroke="currentColor" strokeWidth="2" strokeLinecap="round" strokeLinejoin="round" aria-hidden>
            <path d="M21.44 11.05l-9.19 9.19a6 6 0 0 1-8.49-8.49l9.19-9.19a4 4 0 0 1 5.66 5.66l-9.2 9.19a2 2 0 0 1-2.83-2.83l8.49-8.48" />
          </svg>
        </button>
        <input
          ref={fileInput}
          type="file"
          multiple
          hidden
          data-testid="file"
          onChange={(e) => {
            setFiles([...files, ...Array.from(e.target.files ?? [])]);
            e.target.value = "";
          }}
        />
        <input
          className="text"
          name="message"
          placeholder="Write a message…"
          autoComplete="off"
          value={text}
          disabled={disabled}
          onChange={(e) => onType(e.target.value)}
        />
        <button type="submit" disabled={sending || (!text.trim() && files.length === 0)}>
          Send
        </button>
      </div>
    </form>
  );
}
