/**
 * Sign-in with an API key, for when no login link is at hand (`logbook open` makes one).
 * The key is used once, from this page, to ask for a login link (`auth.createLoginLink`),
 * which the browser then opens like any other: the key is never stored, never put in a URL.
 */
import { useId, useState, type FormEvent } from "react";

import { createClient } from "../trpc";

export function SignInView() {
  const keyId = useId();
  const [key, setKey] = useState("");
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<string | null>(
    new URLSearchParams(window.location.search).get("link") === "invalid"
      ? "That sign-in link has already been used or has expired (links work once, for two minutes). Make a new one with logbook open, or sign in with a key."
      : null,
  );

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setProblem(null);
    try {
      const link = await createClient({ apiKey: key.trim() }).auth.createLoginLink.mutate();
      window.location.assign(link.path);
    } catch (error) {
      setProblem(error instanceof Error ? error.message : String(error));
      setBusy(false);
    }
  };

  return (
    <main id="main" className="sign-in">
      <h1>Sign in to Logbook</h1>
      <p>
        Run <code>logbook open</code> on a machine with a key to get a sign-in link, or paste an API key here. You will
        have that key&apos;s scopes.
      </p>
      {problem && (
        <p className="state error" role="alert">
          {problem}
        </p>
      )}
      <form onSubmit={(e) => void submit(e)}>
        <label htmlFor={keyId}>API key</label>
        <input
          id={keyId}
          name="apiKey"
          type="password"
          autoComplete="off"
          spellCheck={false}
          required
          placeholder="lbk_…"
          value={key}
          onChange={(e) => setKey(e.target.value)}
        />
        <button type="submit" disabled={busy || key.trim() === ""}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
