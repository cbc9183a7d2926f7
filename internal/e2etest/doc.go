// Package e2etest drives sockgate from a real browser: Debian's Chromium,
// through playwright-core (npm, pinned in examples/web/package-lock.json),
// against a sockgate process serving the built examples/web client with
// -static.
//
//   - TestWeb_Chat runs examples/web/e2e/chat.mjs: two users in two browser
//     contexts create a chat, exchange messages, see typing, read receipts,
//     unread counts and presence, upload and open an image, page through
//     history, and one goes offline and comes back to the missed messages.
//   - TestWeb_TutorialFlow runs examples/web/e2e/tutorial.mjs on
//     examples/web/tutorial.html, a page of ours speaking the tutorial's
//     wire contract on "/" (SPEC §2): login, room, chat, kick.
//
// `make e2e` (part of `make test`) installs examples/web's packages (npm ci),
// builds the client (vite build), then runs these tests. Screenshots of every
// run are kept in examples/web/e2e/artifacts (SOCKGATE_E2E_ARTIFACTS moves
// them; `make screenshots` writes the README's into docs/screenshots). A
// missing Chromium, node, npm install or build skips the tests locally and
// fails them under CI=true (testenv.Unavailable); CHROMIUM names another
// Chromium binary.
package e2etest
