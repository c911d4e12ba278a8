/** The suite's one setting: where Chromium is (`CHROMIUM_PATH`, default Debian's `/usr/bin/chromium`). */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
