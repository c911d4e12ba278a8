import { describe, expect, it } from "vitest";

import { crossSiteRefusal, sessionTokenFrom } from "./web-session.js";

const HOST = "127.0.0.1:4680";

describe("sessionTokenFrom", () => {
  it("finds the session cookie among others, and nothing when it is absent or empty", () => {
    expect(sessionTokenFrom("theme=dark; logbook_session=lbs_abc; x=1")).toBe("lbs_abc");
    expect(sessionTokenFrom("theme=dark")).toBeUndefined();
    expect(sessionTokenFrom("logbook_session=")).toBeUndefined();
    expect(sessionTokenFrom(undefined)).toBeUndefined();
  });
});

describe("crossSiteRefusal", () => {
  it("lets reads through whatever their origin", () => {
    expect(crossSiteRefusal({ method: "GET", headers: { host: HOST, origin: "https://evil.example" } })).toBeNull();
  });

  it("lets a same-origin write with the header through", () => {
    const headers = { host: HOST, origin: `http://${HOST}`, "sec-fetch-site": "same-origin", "x-logbook-csrf": "1" };
    expect(crossSiteRefusal({ method: "POST", headers })).toBeNull();
    // Browsers that send neither Origin nor Sec-Fetch-Site still need the header.
    expect(crossSiteRefusal({ method: "POST", headers: { host: HOST, "x-logbook-csrf": "1" } })).toBeNull();
  });

  it("refuses a write without the header, from another origin, or from another site", () => {
    expect(crossSiteRefusal({ method: "POST", headers: { host: HOST } })?.message).toContain("x-logbook-csrf: 1");
    expect(
      crossSiteRefusal({
        method: "POST",
        headers: { host: HOST, origin: "https://evil.example", "x-logbook-csrf": "1" },
      })?.code,
    ).toBe("FORBIDDEN");
    expect(
      crossSiteRefusal({
        method: "POST",
        headers: { host: HOST, "sec-fetch-site": "cross-site", "x-logbook-csrf": "1" },
      })?.message,
    ).toContain("cross-site");
    expect(
      crossSiteRefusal({ method: "POST", headers: { host: HOST, origin: "null", "x-logbook-csrf": "1" } }),
    ).not.toBeNull();
  });
});
