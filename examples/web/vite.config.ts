import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";
import { resolve } from "node:path";

// `npm run build` writes dist/, which sockgate serves with `-static
// examples/web/dist`. `npm run dev` serves the app on :5173 and proxies the
// API and Socket.IO to a sockgate on :3000 (`make run`), so the browser sees
// one origin as in production.
const backend = process.env.SOCKGATE_URL ?? "http://127.0.0.1:3000";

export default defineConfig({
  plugins: [react()],
  build: {
    rollupOptions: {
      input: {
        main: resolve(import.meta.dirname, "index.html"),
        // The tutorial flow page (SPEC §2 events on "/"), driven by e2e/tutorial.mjs.
        tutorial: resolve(import.meta.dirname, "tutorial.html"),
      },
    },
  },
  server: {
    proxy: {
      "/socket.io": { target: backend, ws: true },
      "/chats": backend,
      "/attachments": backend,
      "/api": backend,
    },
  },
});
