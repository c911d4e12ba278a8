/**
 * The dashboard's frame: the sign-in page, or (signed in) the header with navigation and
 * sign-out around the views. Routes by wouter (see README: small, hooks only). The first
 * screen (sessions list) is in the entry chunk; every other view loads when first opened.
 */
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { lazy, Suspense, useEffect, useId, useRef, useState } from "react";
import { Link, Redirect, Route, Switch, useLocation } from "wouter";

import { ErrorState, Loading } from "./components";
import { EMPTY_SEARCH, isSearchShortcut, searchHref } from "./lib/search";
import { MeContext, meFrom } from "./me";
import { SessionsView } from "./routes/sessions";
import { ServerUnreachableBanner } from "./server-reachability";
import { SignInView } from "./routes/sign-in";
import { CSRF_HEADERS, errorStatus, useTRPC } from "./trpc";

const SessionRoute = lazy(() => import("./routes/session"));
const UsageView = lazy(() => import("./routes/usage"));
const AdminViews = lazy(() => import("./routes/admin"));
const SearchView = lazy(() => import("./routes/search"));
const WebhooksView = lazy(() => import("./routes/webhooks"));

export function App() {
  const [location] = useLocation();
  return (
    <>
      <ServerUnreachableBanner />
      {location === "/sign-in" ? <SignInView /> : <SignedIn />}
    </>
  );
}

const NAV = [
  { href: "/", label: "Sessions" },
  { href: "/search", label: "Search" },
  { href: "/usage", label: "Usage" },
  { href: "/projects", label: "Projects" },
  { href: "/jobs", label: "Jobs" },
];

function SignedIn() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [location, navigate] = useLocation();
  const [signingOut, setSigningOut] = useState(false);
  const who = useQuery(trpc.auth.whoami.queryOptions());

  // The views start their own queries at once, alongside this one (no waterfall); until it
  // answers they show no write buttons.
  if (who.isError) {
    if (errorStatus(who.error) === 401) return <Redirect to="/sign-in" />;
    return <ErrorState error={who.error} what="your session" />;
  }
  const me = who.data ? meFrom(who.data) : meFrom({ name: "…", scopes: [] });
  const nav = me.isAdmin
    ? [...NAV, { href: "/webhooks", label: "Webhooks" }, { href: "/keys", label: "API keys" }]
    : NAV;

  const signOut = async () => {
    setSigningOut(true);
    try {
      await fetch("/auth/sign-out", { method: "POST", headers: CSRF_HEADERS });
    } finally {
      queryClient.clear();
      navigate("/sign-in");
    }
  };

  return (
    <MeContext.Provider value={me}>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="top">
        <Link href="/" className="brand">
          Logbook
        </Link>
        <nav aria-label="Main">
          <ul>
            {nav.map((item) => {
              const current =
                item.href === "/"
                  ? location === "/" || location.startsWith("/sessions")
                  : location.startsWith(item.href);
              return (
                <li key={item.href}>
                  <Link href={item.href} aria-current={current ? "page" : undefined}>
                    {item.label}
                  </Link>
                </li>
              );
            })}
          </ul>
        </nav>
        <GlobalSearch />
        <div className="who">
          <span title={`scopes: ${me.scopes.join(", ")}`}>{me.name}</span>
          <button type="button" onClick={() => void signOut()} disabled={signingOut}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <Suspense fallback={<Loading what="the page" />}>
          <Switch>
            <Route path="/" component={SessionsView} />
            <Route path="/sessions/:id">{(params) => <SessionRoute id={params.id} />}</Route>
            <Route path="/search" component={SearchView} />
            <Route path="/usage" component={UsageView} />
            <Route path="/projects">{() => <AdminViews view="projects" />}</Route>
            <Route path="/jobs">{() => <AdminViews view="jobs" />}</Route>
            <Route path="/keys">{() => <AdminViews view="keys" />}</Route>
            <Route path="/webhooks" component={WebhooksView} />
            <Route>
              <p className="state">
                No such page. <Link href="/">Back to the sessions</Link>
              </p>
            </Route>
          </Switch>
        </Suspense>
      </main>
    </MeContext.Provider>
  );
}

/**
 * The search box every page has: `/` (outside a text field) puts the cursor in it, Enter opens
 * the search view with the words (the view keeps them in the address).
 */
function GlobalSearch() {
  const [, navigate] = useLocation();
  const [words, setWords] = useState("");
  const box = useRef<HTMLInputElement>(null);
  const id = useId();
  useEffect(() => {
    const onKey = (event: globalThis.KeyboardEvent) => {
      const target = event.target instanceof HTMLElement ? event.target : null;
      if (!isSearchShortcut({ ...pick(event), target })) return;
      event.preventDefault();
      box.current?.focus();
      box.current?.select();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);
  return (
    <form
      className="global-search"
      role="search"
      aria-label="Search events"
      onSubmit={(e) => {
        e.preventDefault();
        if (words.trim() === "") return;
        navigate(searchHref({ ...EMPTY_SEARCH, q: words }));
        setWords("");
        box.current?.blur();
      }}
    >
      <label htmlFor={id} className="visually-hidden">
        Search events
      </label>
      <input
        ref={box}
        id={id}
        type="search"
        placeholder="Search events (press /)"
        aria-keyshortcuts="/"
        value={words}
        onChange={(e) => setWords(e.target.value)}
      />
    </form>
  );
}

function pick(event: globalThis.KeyboardEvent) {
  return { key: event.key, ctrlKey: event.ctrlKey, metaKey: event.metaKey, altKey: event.altKey };
}
