import { useState } from "react";
import type { ChatClient, State } from "./client";
import { initials, shortTime } from "./format";

export function ChatList({ client, state, onLogout }: { client: ChatClient; state: State; onLogout: () => void }) {
  const [creating, setCreating] = useState(false);
  return (
    <aside className="sidebar">
      <header className="me">
        <div className="avatar" aria-hidden>
          {initials(state.me.name)}
          <span className={`dot ${state.conn === "online" ? "on" : "off"}`} />
        </div>
        <div className="me-name">
          <strong>{state.me.name}</strong>
          <small>@{state.me.id}</small>
        </div>
        <button className="ghost" onClick={onLogout}>
          Sign out
        </button>
      </header>
      <button className="new-chat" onClick={() => setCreating((v) => !v)}>
        {creating ? "Cancel" : "+ New chat"}
      </button>
      {creating && <NewChat client={client} done={() => setCreating(false)} />}
      <ul className="chats" aria-label="Chats">
        {state.chats.map((c) => {
          const others = (state.members[c.id] ?? []).filter((m) => m.userId !== state.me.id);
          const anyOnline = state.conn === "online" && others.some((m) => state.online[m.userId]);
          const typing = Object.keys(state.typing[c.id] ?? {}).length > 0;
          return (
            <li key={c.id}>
              <button
                className={`chat-item ${c.id === state.activeId ? "active" : ""}`}
                onClick={() => client.select(c.id)}
                data-chat-title={c.title}
              >
                <div className="avatar small" aria-hidden>
                  {initials(c.title || "?")}
                  {others.length > 0 && <span className={`dot ${anyOnline ? "on" : "off"}`} data-testid="chat-presence" />}
                </div>
                <div className="chat-meta">
                  <span className="chat-title">{c.title || "Untitled chat"}</span>
                  <small>{typing ? <em>typing…</em> : others.map((m) => m.name || m.userId).join(", ")}</small>
                </div>
                <div className="chat-side">
                  <small>{shortTime(c.activityAt)}</small>
                  {(c.unreadCount ?? 0) > 0 && (
                    <span className="badge" data-testid="unread" aria-label={`${c.unreadCount} unread`}>
                      {c.unreadCount}
                    </span>
                  )}
                </div>
              </button>
            </li>
          );
        })}
        {state.chats.length === 0 && <li className="hint">No chats yet.</li>}
      </ul>
    </aside>
  );
}

function NewChat({ client, done }: { client: ChatClient; done: () => void }) {
  const [title, setTitle] = useState("");
  const [members, setMembers] = useState("");
  const [error, setError] = useState("");
  return (
    <form
      className="new-chat-form"
      onSubmit={async (e) => {
        e.preventDefault();
        const ids = members.split(/[\s,]+/).filter(Boolean);
        try {
          await client.createChat(title.trim(), ids);
          done();
        } catch (err) {
          setError((err as Error).message);
        }
      }}
    >
      <input name="title" placeholder="Title" value={title} onChange={(e) => setTitle(e.target.value)} required />
      <input
        name="members"
        placeholder="Member ids (bob, carol)"
        value={members}
        onChange={(e) => setMembers(e.target.value)}
      />
      {error && <div className="error">{error}</div>}
      <button type="submit">Create</button>
    </form>
  );
}
