// The REST API of stored chats (SPEC §6), as sockgate serves it on the same
// origin. Every call carries the token as "Authorization: Bearer".

export type Attachment = { id: string; name: string; size: number; contentType: string; url: string };

export type Message = {
  id: string;
  chatId: string;
  seq: number;
  senderId: string;
  content: string;
  clientMsgId?: string;
  timestamp: string;
  attachments: Attachment[];
  sender: { id: string; fullName: string };
};

export type Chat = {
  id: string;
  kind: "general" | "order";
  orderId?: string;
  title: string;
  creatorId: string;
  archived: boolean;
  lastSeq: number;
  lastMessageId?: string;
  activityAt: string;
  createdAt: string;
  unreadCount?: number;
};

export type Member = {
  userId: string;
  name: string;
  username?: string;
  role: "owner" | "member";
  joinedAt: string;
  online: boolean;
  lastReadMessageId?: string;
};

export type Page<T> = { data: T[]; page?: number; limit: number; total?: number; hasMore: boolean };

/** ApiError is a refused request: NestJS's {statusCode, message, error}. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

export class Api {
  constructor(private readonly token: string) {}

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { Authorization: `Bearer ${this.token}` };
    let payload: BodyInit | undefined;
    if (body instanceof FormData) {
      payload = body;
    } else if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
    const res = await fetch(path, { method, headers, body: payload });
    const text = await res.text();
    const json = text ? JSON.parse(text) : undefined;
    if (!res.ok) {
      throw new ApiError(res.status, json?.message ?? res.statusText, json?.error ?? "internal");
    }
    return json as T;
  }

  chats(): Promise<Page<Chat>> {
    return this.request("GET", "/chats?limit=100");
  }

  createChat(title: string, memberIds: string[]): Promise<Chat> {
    return this.request("POST", "/chats", { kind: "general", title, memberIds });
  }

  members(chatId: string): Promise<Member[]> {
    return this.request("GET", `/chats/${encodeURIComponent(chatId)}/members`);
  }

  /** messages returns a page newest first; before pages towards older ones. */
  messages(chatId: string, limit: number, before?: string): Promise<Page<Message>> {
    const q = new URLSearchParams({ limit: String(limit) });
    if (before) q.set("before", before);
    return this.request("GET", `/chats/${encodeURIComponent(chatId)}/messages?${q}`);
  }

  upload(chatId: string, file: File): Promise<Attachment> {
    const form = new FormData();
    form.append("file", file, file.name);
    return this.request("POST", `/chats/${encodeURIComponent(chatId)}/attachments`, form);
  }

  /** blob downloads an attachment (members only, so with the token). */
  async blob(url: string): Promise<Blob> {
    const res = await fetch(url, { headers: { Authorization: `Bearer ${this.token}` } });
    if (!res.ok) throw new ApiError(res.status, res.statusText, "download");
    return res.blob();
  }
}

/** Claims of the token that the client shows (not verified here: the server does). */
export type Me = { id: string; name: string };

export function claimsOf(token: string): Me | null {
  const part = token.split(".")[1];
  if (!part) return null;
  try {
    const json = atob(part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "="));
    const c = JSON.parse(decodeURIComponent(escape(json)));
    const id = c.sub ?? c.userId ?? c.id;
    if (id === undefined) return null;
    return { id: String(id), name: String(c.name ?? c.fullName ?? c.username ?? id) };
  } catch {
    return null;
  }
}
