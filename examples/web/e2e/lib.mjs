// Shared by the browser tests: Debian's Chromium through playwright-core,
// with the flags of a closed network, and small step/assert helpers. The Go
// test (internal/e2etest) runs each script with BASE_URL, ARTIFACTS and
// CHROMIUM set and reads its exit code; every step is printed as it passes.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

export const baseURL = must("BASE_URL");
export const artifacts = must("ARTIFACTS");
mkdirSync(artifacts, { recursive: true });

function must(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`e2e: ${name} is not set`);
    process.exit(2);
  }
  return v;
}

/** launch starts a headless Chromium. Playwright gives each launch a fresh,
 * temporary --user-data-dir of its own (removed on close). */
export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
    timeout: 30000,
  });
}

/** newPage opens a page in a new browser context (its own cookies, storage, network). */
export async function newPage(browser, name) {
  const context = await browser.newContext({ viewport: { width: 1180, height: 720 }, deviceScaleFactor: 1 });
  context.setDefaultTimeout(15000);
  const page = await context.newPage();
  page.on("pageerror", (err) => console.log(`[${name}] page error: ${err.message}`));
  page.on("console", (msg) => msg.type() === "error" && console.log(`[${name}] console: ${msg.text()}`));
  return { context, page };
}

let n = 0;
/** step runs fn and prints its name when it passes. */
export async function step(name, fn) {
  const t0 = Date.now();
  await fn();
  console.log(`ok ${++n} - ${name} (${Date.now() - t0} ms)`);
}

export async function shot(page, name) {
  await page.screenshot({ path: join(artifacts, `${name}.png`) });
}

/** main runs the test body, screenshots every page on failure, and exits non-zero then. */
export async function main(body) {
  const browser = await launch();
  const pages = [];
  try {
    await body(browser, pages);
    console.log(`${n} passed, 0 failed`);
  } catch (err) {
    console.error(`not ok - ${err.stack ?? err}`);
    for (const [i, p] of pages.entries()) {
      await p.screenshot({ path: join(artifacts, `failure-${i}.png`) }).catch(() => undefined);
    }
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
}

export function assert(cond, what) {
  if (!cond) throw new Error(`assertion failed: ${what}`);
}
