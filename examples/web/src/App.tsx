import { useEffect, useState, useSyncExternalStore } from "react";
import { claimsOf, type Me } from "./api";
import { ChatClient } from "./client";
import { ChatList } from "./ChatList";
import { ChatPane } from "./ChatPane";

const tokenKey = "sockgate.token";

/** initialToken takes a token from the URL fragment (#token=…, then removed) or from storage. */
function initialToken(): string {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (m) {
    const t = decodeURIComponent(m[1]);
    localStorage.setItem(tokenKey, t);
    history.replaceState(null, "", location.pathname + location.search);
    return t;
  }
  return localStorage.getItem(tokenKey) ?? "";
}

export function App() {
  const [token, setToken] = useState(initialToken);
  const me = token ? claimsOf(token) : null;
  if (!token || !me) {
    return (
      <Login
        error={token && !me ? "That is not a JWT with a user id." : undefined}
        onLogin={(t) => {
          localStorage.setItem(tokenKey, t);
          setToken(t);
        }}
      />
    );
  }
  return (
    <Chat
      key={token}
      token={token}
      me={me}
      onLogout={() => {
        localStorage.removeItem(tokenKey);
        setToken("");
      }}
    />
  );
}

function Login({ error, onLogin }: { error?: string; onLogin: (token: string) => void }) {
  const [value, setValue] = useState("");
  return (
    <div className="login">
      <form
        className="login-card"
        onSubmit={(e) => {
          e.preventDefault();
          if (value.trim()) onLogin(value.trim());
        }}
      >
        <h1>
          <span className="logo">◆</span> sockgate chat
        </h1>
        <p>
          Paste a development token. With <code>make run</code> going, <code>make token SUB=alice NAME=Alice</code>{" "}
          prints one, and <code>make login SUB=alice NAME=Alice</code> a sign-in link.
        </p>
        <textarea
          name="token"
          aria-label="Token"
          placeholder="eyJhbGciOiJIUzI1NiIs…"
          value={value}
          onChange={(e) => setValue(e.target.value)}
          rows={5}
        />
        {error && <div className="error">{error}</div>}
        <button type="submit" disabled={!value.trim()}>
          Sign in
        </button>
      </form>
    </div>
  );
}

function Chat({ token, me, onLogout }: { token: string; me: Me; onLogout: () => void }) {
  // One client (one socket) per mounted token; created in an effect so that
  // React's development double mount closes the first one cleanly.
  const [client, setClient] = useState<ChatClient | null>(null);
  useEffect(() => {
    const c = new ChatClient(token, me);
    setClient(c);
    return () => c.close();
  }, [token]); // eslint-disable-line react-hooks/exhaustive-deps
  return client ? <ChatApp client={client} onLogout={onLogout} /> : null;
}

function ChatApp({ client, onLogout }: { client: ChatClient; onLogout: () => void }) {
  const state = useSyncExternalStore(client.subscribe, client.snapshot);
  const active = state.chats.find((c) => c.id === state.activeId);
  return (
    <div className="app" data-conn={state.conn}>
      {state.conn !== "online" && (
        <div className={`banner ${state.conn}`} role="status" data-testid="conn-banner">
          {state.conn === "refused" ? (
            <>
              Signed out by the server: {state.connError}{" "}
              <button onClick={onLogout}>Sign in again</button>
            </>
          ) : (
            <>
              <span className="spinner" /> {state.conn === "connecting" ? "Connecting…" : "Reconnecting…"}
            </>
          )}
        </div>
      )}
      <ChatList client={client} state={state} onLogout={onLogout} />
      {active ? (
        <ChatPane key={active.id} client={client} state={state} chat={active} />
      ) : (
        <main className="empty">
          <p>Pick a chat on the left, or start a new one.</p>
        </main>
      )}
      {state.notice && (
        <div className="toast" role="alert">
          {state.notice}
        </div>
      )}
    </div>
  );
}
