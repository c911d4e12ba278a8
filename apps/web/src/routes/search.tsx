/**
 * Full-text search over every stored event (`events.search`): the form and its filters live
 * in the address, results come a page at a time, each with its snippet (the server marks the
 * matched words as parts of plain text; we draw them as <mark>, never as HTML) and a link
 * that opens the event's session scrolled to the event.
 */
import { useInfiniteQuery } from "@tanstack/react-query";
import { useEffect, useId, useState } from "react";
import { Link, useLocation, useSearch } from "wouter";

import { Empty, ErrorState, LaterPageError, Loading, ProjectOptions } from "../components";
import { formatTime } from "../lib/format";
import { COMMON_EVENT_TYPES, eventHref, formFromParams, searchHref, searchInput, type SearchForm } from "../lib/search";
import type { RouterOutputs } from "../lib/types";
import { useTRPC } from "../trpc";

const PAGE = 25;
type Hit = RouterOutputs["events"]["search"]["items"][number];

export default function SearchView() {
  const trpc = useTRPC();
  const address = useSearch();
  const [, navigate] = useLocation();
  const applied = formFromParams(new URLSearchParams(address));
  const [form, setForm] = useState<SearchForm>(applied);
  // A new address (the header's box, back and forward) replaces what the form shows.
  useEffect(() => setForm(formFromParams(new URLSearchParams(address))), [address]);
  const input = searchInput(applied, PAGE);

  const results = useInfiniteQuery(
    trpc.events.search.infiniteQueryOptions(input ?? { query: "-", limit: PAGE }, {
      enabled: input !== null,
      getNextPageParam: (last) => last.nextCursor ?? undefined,
    }),
  );
  const hits = results.data?.pages.flatMap((p) => p.items) ?? [];

  return (
    <section aria-labelledby="search-heading">
      <div className="view-head">
        <h1 id="search-heading">Search</h1>
      </div>
      <SearchFilters
        value={form}
        onChange={setForm}
        onSubmit={(next) => navigate(searchHref(next))}
        session={applied.session}
      />
      {input === null ? (
        <Empty>
          Type words to find in prompts, replies, tool calls and their results: <code>"exact phrase"</code>,{" "}
          <code>or</code>, <code>-word</code> work as in web search; a path or identifier matches inside words.
        </Empty>
      ) : results.isPending ? (
        <Loading what="results" />
      ) : results.isError && results.data === undefined ? (
        <ErrorState error={results.error} what="results" />
      ) : hits.length === 0 ? (
        <Empty>No event matches “{input.query}” with these filters.</Empty>
      ) : (
        <>
          <p className="muted" role="status">
            {hits.length}
            {results.hasNextPage ? "+" : ""} {hits.length === 1 ? "result" : "results"}, most relevant first
          </p>
          <ol className="hits" aria-label="Search results">
            {hits.map((hit) => (
              <SearchHitItem key={hit.event.id} hit={hit} />
            ))}
          </ol>
          <LaterPageError query={results} more="more results" shown="these results" />
          {results.hasNextPage && !results.isFetchNextPageError && (
            <button
              type="button"
              className="more"
              disabled={results.isFetchingNextPage}
              onClick={() => void results.fetchNextPage()}
            >
              {results.isFetchingNextPage ? "Loading…" : "More results"}
            </button>
          )}
        </>
      )}
    </section>
  );
}

function SearchFilters(props: {
  value: SearchForm;
  onChange: (form: SearchForm) => void;
  onSubmit: (form: SearchForm) => void;
  session: string;
}) {
  const { value, onChange } = props;
  const ids = { q: useId(), project: useId(), types: useId(), typeList: useId(), from: useId(), to: useId() };
  const set = (key: keyof SearchForm) => (e: { target: { value: string } }) =>
    onChange({ ...value, [key]: e.target.value });
  return (
    <form
      className="filters search-filters"
      role="search"
      onSubmit={(e) => {
        e.preventDefault();
        props.onSubmit(value);
      }}
    >
      <label htmlFor={ids.q}>Words</label>
      <input id={ids.q} type="search" value={value.q} onChange={set("q")} placeholder='grep "exact phrase" -test' />
      <label htmlFor={ids.project}>Project</label>
      <select id={ids.project} value={value.project} onChange={set("project")}>
        <ProjectOptions />
      </select>
      <label htmlFor={ids.types}>Event types</label>
      <input
        id={ids.types}
        list={ids.typeList}
        value={value.types}
        onChange={set("types")}
        placeholder="all (comma-separated)"
      />
      <datalist id={ids.typeList}>
        {COMMON_EVENT_TYPES.map((t) => (
          <option key={t} value={t} />
        ))}
      </datalist>
      <label htmlFor={ids.from}>From</label>
      <input id={ids.from} type="date" value={value.from} onChange={set("from")} />
      <label htmlFor={ids.to}>To</label>
      <input id={ids.to} type="date" value={value.to} onChange={set("to")} />
      <button type="submit">Search</button>
      {props.session !== "" && (
        <span className="check">
          in one session and its subagents (<Link href={`/sessions/${props.session}`}>open it</Link>,{" "}
          <button type="button" className="link" onClick={() => props.onSubmit({ ...value, session: "" })}>
            search everywhere
          </button>
          )
        </span>
      )}
    </form>
  );
}

function SearchHitItem({ hit }: { hit: Hit }) {
  const e = hit.event;
  const where = hit.session.title ?? hit.session.externalId ?? hit.session.id;
  return (
    <li className="hit" data-event-id={e.id}>
      <p className="hit-head">
        <span className="badge">{e.toolName ? `${e.eventType} · ${e.toolName}` : e.eventType}</span>{" "}
        <Link href={`/sessions/${hit.session.id}`}>{where}</Link>{" "}
        <time className="muted" dateTime={e.occurredAt}>
          {formatTime(e.occurredAt)}
        </time>
      </p>
      <p className="snippet">
        {hit.snippet.length === 0
          ? (e.message ?? "")
          : hit.snippet.map((part, i) =>
              part.match ? <mark key={i}>{part.text}</mark> : <span key={i}>{part.text}</span>,
            )}
      </p>
      <Link href={eventHref(e)} className="jump" aria-label={`Jump to this ${e.eventType} event in ${where}`}>
        Jump to event
      </Link>
    </li>
  );
}
