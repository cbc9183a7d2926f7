// The tutorial's flow (SPEC §2, namespace "/") in two browsers: Ann logs in
// and creates a room (its host), Ben joins, both chat, Ann kicks Ben; Ben is
// back in the lobby and Ann sees the server's "Ben was kicked." message.
import { main, newPage, step, shot, baseURL, assert } from "./lib.mjs";

await main(async (browser, pages) => {
  const ann = (await newPage(browser, "ann")).page;
  const ben = (await newPage(browser, "ben")).page;
  pages.push(ann, ben);
  const room = `room${Date.now() % 100000}`;

  for (const [page, name] of [[ann, "Ann"], [ben, "Ben"]]) {
    await step(`${name} logs in`, async () => {
      await page.goto(`${baseURL}/tutorial.html`);
      await page.fill("#username", name);
      await page.click("#login-form button");
      await page.locator("#lobby").waitFor();
    });
    await step(`${name} joins ${room}`, async () => {
      await page.fill("#room", room);
      await page.click("#room-form button");
      await page.locator("#chat").waitFor();
    });
  }
  await step("the room lists both users, Ann as host", async () => {
    await ann.locator('#users li[data-user="Ben"]').waitFor();
    await ben.locator('#users li[data-user="Ann"]', { hasText: "(host)" }).waitFor();
  });
  await step("Ann and Ben chat", async () => {
    await ann.fill("#message", "Hello Ben");
    await ann.press("#message", "Enter");
    await ben.locator("#messages li", { hasText: "Ann: Hello Ben" }).waitFor();
    await ben.fill("#message", "Hi Ann");
    await ben.press("#message", "Enter");
    await ann.locator("#messages li", { hasText: "Ben: Hi Ann" }).waitFor();
  });
  await step("Ben, not the host, has no kick button", async () => {
    assert((await ben.locator("button[data-kick]").count()) === 0, "Ben sees a kick button");
  });
  await shot(ann, "tutorial-room");
  await step("Ann kicks Ben", async () => {
    await ann.click('button[data-kick="Ben"]');
    await ann.locator("#messages li.system", { hasText: "Ben was kicked." }).waitFor();
    await ben.locator("#status", { hasText: `You were kicked from ${room}.` }).waitFor();
    await ben.locator("#lobby").waitFor();
    await ann.locator('#users li[data-user="Ben"]').waitFor({ state: "detached" });
  });
  await step("GET /api/rooms no longer lists Ben", async () => {
    const res = await ben.evaluate(async () => (await fetch(location.origin + "/api/rooms")).json());
    const r = res.find((x) => x.users.some((u) => u.userName === "Ann"));
    assert(r && !r.users.some((u) => u.userName === "Ben"), `GET /api/rooms still lists Ben: ${JSON.stringify(res)}`);
  });
  await shot(ann, "tutorial-kicked");
});
