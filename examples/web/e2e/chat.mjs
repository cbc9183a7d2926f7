// examples/web end to end: Alice and Bob, each in a browser context of
// their own, create a chat, exchange messages, see typing, read receipts,
// unread counts and presence, upload and open an image, page back through
// history, and Bob goes offline and comes back to the messages he missed.
import { io } from "socket.io-client";
import { main, newPage, step, shot, baseURL, assert } from "./lib.mjs";

const tokens = { alice: process.env.TOKEN_ALICE, bob: process.env.TOKEN_BOB };
assert(tokens.alice && tokens.bob, "TOKEN_ALICE and TOKEN_BOB are set");

const chatItem = (page, title) => page.locator(`button.chat-item[data-chat-title="${title}"]`);
const message = (page, text) => page.locator(".msg .content", { hasText: text });
const online = (page) => page.locator('.app[data-conn="online"]').waitFor();

await main(async (browser, pages) => {
  const a = await newPage(browser, "alice");
  const b = await newPage(browser, "bob");
  const alice = a.page, bob = b.page;
  pages.push(alice, bob);

  await step("Alice signs in with the form, Bob with a link; both connect", async () => {
    await alice.goto(baseURL);
    await alice.locator("textarea[name=token]").waitFor();
    await shot(alice, "login");
    await alice.fill("textarea[name=token]", tokens.alice);
    await alice.click(".login-card button[type=submit]");
    await bob.goto(`${baseURL}/#token=${tokens.bob}`);
    await Promise.all([online(alice), online(bob)]);
    await alice.locator(".me-name strong", { hasText: "Alice" }).waitFor();
    await bob.locator(".me-name strong", { hasText: "Bob" }).waitFor();
  });

  await step("Alice creates a chat with Bob; Bob's list shows it", async () => {
    await alice.click("button.new-chat");
    await alice.fill('input[name="title"]', "Weekend trip");
    await alice.fill('input[name="members"]', "bob");
    await alice.click('.new-chat-form button[type="submit"]');
    await alice.locator(".pane-head h2", { hasText: "Weekend trip" }).waitFor();
    await chatItem(bob, "Weekend trip").waitFor();
  });

  await step("presence: Alice sees Bob online", async () => {
    await alice.locator('[data-testid="member-bob"][data-online="true"]').waitFor();
  });

  await step("Alice's message shows on Bob's list as unread, also after a reload", async () => {
    await alice.fill('input[name="message"]', "Hi Bob! Shall we go to the lake on Saturday?");
    await alice.press('input[name="message"]', "Enter");
    await message(alice, "lake on Saturday").waitFor();
    await chatItem(bob, "Weekend trip").locator('[data-testid="unread"]', { hasText: "1" }).waitFor();
    // After a reload the count comes from the server (GET /chats unreadCount).
    await bob.reload();
    await online(bob);
    await chatItem(bob, "Weekend trip").locator('[data-testid="unread"]', { hasText: "1" }).waitFor();
  });
  await shot(bob, "unread");

  await step("Bob opens the chat: the message is there and Alice sees it read", async () => {
    await chatItem(bob, "Weekend trip").click();
    await message(bob, "lake on Saturday").waitFor();
    await chatItem(bob, "Weekend trip").locator('[data-testid="unread"]').waitFor({ state: "detached" });
    await alice.locator('[data-testid="seen"]', { hasText: "Seen by Bob" }).waitFor();
  });

  await step("Bob types: Alice sees him typing, then his message", async () => {
    await bob.locator('input[name="message"]').pressSequentially("Yes! I'll bring the tent", { delay: 20 });
    await alice.locator('[data-testid="typing"]', { hasText: "Bob is typing…" }).waitFor();
    await shot(alice, "typing");
    await bob.press('input[name="message"]', "Enter");
    await message(alice, "bring the tent").waitFor();
    await alice.locator('[data-testid="typing"]', { hasText: "typing" }).waitFor({ state: "detached" });
  });

  await step("Alice uploads an image; Bob sees the preview and opens it", async () => {
    const png = await picture(a.context);
    await alice.setInputFiles('input[data-testid="file"]', { name: "lake.png", mimeType: "image/png", buffer: png });
    await alice.locator(".chip", { hasText: "lake.png" }).waitFor();
    await alice.fill('input[name="message"]', "The spot I told you about");
    await alice.press('input[name="message"]', "Enter");
    const thumb = bob.locator(".thumb img[alt='lake.png']");
    await thumb.waitFor();
    await bob.waitForFunction((el) => el.complete && el.naturalWidth > 0, await thumb.elementHandle());
    await shot(bob, "chat");
    await thumb.click();
    const big = bob.locator(".lightbox img");
    await big.waitFor();
    const w = await big.evaluate((el) => el.naturalWidth);
    assert(w === 480, `the opened image is ${w} px wide, want 480`);
    await shot(bob, "image-open");
    await bob.click(".lightbox");
    await big.waitFor({ state: "detached" });
    // Download: the same bytes as uploaded.
    const [dl] = await Promise.all([bob.waitForEvent("download"), bob.click(".file", { hasText: "lake.png" })]);
    assert(dl.suggestedFilename() === "lake.png", `download named ${dl.suggestedFilename()}`);
  });

  await step("history: Bob scrolls back through 75 messages to the first", async () => {
    const chatId = await seedHistory(75);
    await chatItem(bob, "Long history").waitFor();
    await chatItem(bob, "Long history").click();
    await message(bob, /^history #75$/).waitFor();
    assert((await message(bob, /^history #1$/).count()) === 0, "the first page holds only the newest messages");
    for (let i = 0; i < 10 && (await message(bob, /^history #1$/).count()) === 0; i++) {
      await bob.locator('[data-testid="messages"]').evaluate((el) => el.scrollTo(0, 0));
      await bob.waitForTimeout(300); // the next page loads on scroll; polled, not asserted on time
    }
    await message(bob, /^history #1$/).waitFor();
    await bob.locator(".hint", { hasText: "Beginning of the conversation" }).waitFor();
    await bob.locator('[data-testid="messages"]').evaluate((el) => el.scrollTo(0, 0));
    await shot(bob, "history");
    const seqs = await bob.locator(".msg").evaluateAll((els) => els.map((e) => Number(e.dataset.seq)));
    assert(seqs.length === 75 && seqs.every((s, i) => s === i + 1), `seqs in order without gaps: ${seqs}`);
    assert(chatId, "seeded chat");
  });

  await step("Bob goes offline: he sees Reconnecting…, Alice sees him offline", async () => {
    await chatItem(bob, "Weekend trip").click();
    await message(bob, "spot I told you").waitFor();
    await b.context.setOffline(true);
    await bob.locator('[data-testid="conn-banner"]', { hasText: "Reconnecting…" }).waitFor();
    await alice.locator('[data-testid="member-bob"][data-online="false"]').waitFor({ timeout: 20000 });
  });

  await step("Alice writes while Bob is away", async () => {
    for (const text of ["Are you there?", "I booked the campsite", "See you at 9!"]) {
      await alice.fill('input[name="message"]', text);
      await alice.press('input[name="message"]', "Enter");
      await message(alice, text).waitFor();
    }
    await shot(bob, "reconnecting");
  });

  await step("Bob comes back: the missed messages arrive once, in order", async () => {
    await b.context.setOffline(false);
    await online(bob);
    await bob.locator(".toast", { hasText: "Caught up: 3 missed messages" }).waitFor();
    await message(bob, "See you at 9").waitFor();
    const texts = await bob.locator(".msg .content").allTextContents();
    const tail = texts.slice(-3);
    assert(JSON.stringify(tail) === JSON.stringify(["Are you there?", "I booked the campsite", "See you at 9!"]),
      `Bob's last messages ${JSON.stringify(tail)}`);
    assert(new Set(texts).size === texts.length, `duplicates in ${JSON.stringify(texts)}`);
    await alice.locator('[data-testid="member-bob"][data-online="true"]').waitFor();
    // Bob's client marks what it showed him as read: Alice sees it under the last one.
    const last = alice.locator(".msg", { has: alice.locator(".content", { hasText: "See you at 9!" }) });
    await last.locator('[data-testid="seen"]', { hasText: "Seen by Bob" }).waitFor();
    await shot(bob, "recovered");
  });
});

/** picture renders a 480×300 PNG in a scratch page. */
async function picture(context) {
  const p = await context.newPage();
  await p.setViewportSize({ width: 480, height: 300 });
  await p.setContent(`<body style="margin:0;width:480px;height:300px;background:linear-gradient(#7ec8f0,#f7d9a0 60%,#3f7fa8 60%,#1f4f70);
    font:bold 42px sans-serif;color:#fff;display:grid;place-items:center;text-shadow:0 2px 8px #0006">Lake ☀</body>`);
  const png = await p.screenshot({ type: "png" });
  await p.close();
  return png;
}

/** seedHistory creates a chat of Alice's with Bob over REST and sends n messages from Node's socket.io-client. */
async function seedHistory(n) {
  const res = await fetch(`${baseURL}/chats`, {
    method: "POST",
    headers: { Authorization: `Bearer ${tokens.alice}`, "Content-Type": "application/json" },
    body: JSON.stringify({ kind: "general", title: "Long history", memberIds: ["bob"] }),
  });
  assert(res.status === 201, `POST /chats: ${res.status}`);
  const chat = await res.json();
  const s = io(`${baseURL}/chat`, { auth: { token: tokens.alice }, transports: ["websocket"] });
  try {
    for (let i = 1; i <= n; i++) {
      const ack = await s.timeout(5000).emitWithAck("chat message", { chatId: chat.id, content: `history #${i}` });
      assert(ack.success, `seed message ${i}: ${JSON.stringify(ack)}`);
    }
  } finally {
    s.disconnect();
  }
  return chat.id;
}
