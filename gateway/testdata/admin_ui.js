// Drives the real Socket.IO Admin UI (@socket.io/admin-ui's ui/dist) in
// Chromium with playwright-core.
//
//   node admin_ui.js <uiURL> <serverURL> <user> <password> <socketId> <room> <screenshotDir> <chromium>
//
// Logs in through the connection dialog, waits until the Sockets view lists
// socketId and the Rooms view lists room, takes screenshots, clicks the
// socket's disconnect button, waits until its row is gone. Prints one JSON
// line per step ({"op":"connected"}, {"op":"listed","what":...},
// {"op":"clicked"}, {"op":"gone"}), then {"op":"done"}; {"op":"error"} on
// failure.
"use strict";
const { chromium } = require("playwright-core");
const fs = require("fs");
const os = require("os");
const path = require("path");

const [uiURL, serverURL, user, password, socketId, room, shots, executable] = process.argv.slice(2);
const out = (o) => process.stdout.write(JSON.stringify(o) + "\n");
const timeout = 15000;

// shot saves a screenshot once the view's transitions are over.
async function shot(page, name) {
  await page.mouse.move(1000, 600); // no hover highlight
  // Vuetify's fades and ripples are CSS transitions: wait until none runs.
  await page.waitForFunction(() => document.getAnimations().every((a) => a.playState !== "running"));
  await page.screenshot({ path: path.join(shots, name), animations: "disabled" });
}

(async () => {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "sockgate-chromium-"));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: executable,
    headless: true, // Playwright passes --headless
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    viewport: { width: 1280, height: 720 },
  });
  try {
    // The bundle links fonts and icons from CDNs: nothing leaves the machine.
    await ctx.route(/^https?:\/\/(?!127\.0\.0\.1[:/])/, (r) => r.abort());
    const page = ctx.pages()[0] || (await ctx.newPage());
    page.setDefaultTimeout(timeout);
    const nav = (name) => page.getByRole("navigation").getByRole("link", { name });
    page.on("console", (m) => { if (m.type() === "error" && !m.text().includes("ERR_FAILED")) process.stderr.write("console: " + m.text() + "\n"); });

    await page.goto(uiURL);
    await page.getByLabel("Server URL").fill(serverURL);
    await page.getByLabel("Username").fill(user);
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: /connect/i }).click();
    await page.getByText(/^\s*connected\s*$/i).first().waitFor();
    await page.getByText("Connection", { exact: true }).waitFor({ state: "hidden" }); // the dialog is gone
    out({ op: "connected" });

    await nav("Sockets").click();
    const row = page.locator("tr", { hasText: socketId });
    await row.waitFor();
    out({ op: "listed", what: "socket", text: await row.innerText() });
    await shot(page, "admin-sockets.png");

    await nav("Rooms").click();
    const roomRow = page.locator("tr", { hasText: room });
    await roomRow.waitFor();
    out({ op: "listed", what: "room", text: await roomRow.innerText() });
    await shot(page, "admin-rooms.png");

    await nav("Sockets").click();
    await row.locator("button").click();
    out({ op: "clicked" });
    // Gone from the Sockets table (the click also opens the socket's
    // details, whose rows start with a label, not the id).
    await nav("Sockets").click();
    await page.getByText("Select namespace").first().waitFor();
    await page.waitForFunction((id) => ![...document.querySelectorAll("tr")]
      .some((tr) => tr.cells.length > 2 && tr.cells[0].innerText.trim() === id), socketId, { timeout });
    out({ op: "gone" });
    out({ op: "done" });
  } finally {
    await ctx.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
})().catch((err) => {
  out({ op: "error", message: String((err && err.stack) || err) });
  process.exit(1);
});
