/**
 * Debian's Chromium, driven by playwright-core (which downloads nothing). As root (CI runs as
 * root) Chromium refuses to start without `--no-sandbox`; as an ordinary user it keeps its
 * sandbox. `CHROMIUM_PATH` points elsewhere.
 */
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { fileURLToPath } from "node:url";

import { chromium, type Browser } from "playwright-core";

import { CHROMIUM } from "./config.js";

export const SCREENSHOTS = fileURLToPath(new URL("../screenshots/", import.meta.url));

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: install it (apt-get install -y chromium) or set CHROMIUM_PATH`);
  }
  await mkdir(SCREENSHOTS, { recursive: true });
  const asRoot = process.getuid?.() === 0;
  return chromium.launch({
    executablePath: CHROMIUM,
    args: asRoot ? ["--no-sandbox"] : [],
    headless: true,
  });
}
