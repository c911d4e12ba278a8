import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

/**
 * The dashboard's build: hashed files under `assets/` (the server caches them for a year),
 * a manifest (scripts/bundle-report.js reads it to measure the first screen's JavaScript),
 * no source maps in the shipped build. `pnpm dev` proxies the API to a running server.
 */
export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    manifest: true,
    sourcemap: false,
    target: "es2022",
  },
  server: {
    proxy: {
      "/trpc": "http://127.0.0.1:4680",
      "/auth": "http://127.0.0.1:4680",
    },
  },
});
