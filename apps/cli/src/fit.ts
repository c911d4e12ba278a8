import cliTruncate from "cli-truncate";
import stringWidth from "string-width";

/**
 * Fitting a table to the terminal's width. A cell's width is what the terminal shows, not
 * its length: a CJK character or most emoji take two columns, a combining mark or a colour
 * code none (`string-width`); a cut never splits a character or leaves a colour open
 * (`cli-truncate`).
 */

/** Columns a (possibly multi-line, possibly coloured) cell takes: its widest line. */
export function cellWidth(text: string): number {
  return Math.max(0, ...text.split("\n").map((line) => stringWidth(line)));
}

/** Where a cut goes: at the end (`a long ti…`), or at the start for a path (`…/src/app`). */
type CutAt = "start" | "end";

/** One line cut to at most `width` columns, with `…` where the cut is. */
function cutLine(line: string, width: number, position: CutAt): string {
  if (stringWidth(line) <= width) return line;
  let cut = cliTruncate(line, width, { position });
  // cli-truncate keeps a wide character the cut falls in the middle of (one column too many):
  // ask for one column less until what comes back fits.
  for (let narrower = width - 1; stringWidth(cut) > width && narrower > 0; narrower -= 1) {
    cut = cliTruncate(line, narrower, { position });
  }
  return cut;
}

/** Each line of a cell cut to `width` columns, with `…` where something was cut. */
export function cutToWidth(text: string, width: number, position: CutAt = "end"): string {
  return text
    .split("\n")
    .map((line) => cutLine(line, width, position))
    .join("\n");
}

/** Columns a table takes with these column widths: with borders (`│ a │ b │`) or plain (`a  b`). */
function tableWidth(widths: readonly number[], bordered: boolean): number {
  const cells = widths.reduce((sum, width) => sum + width, 0);
  return bordered ? cells + 2 * widths.length + widths.length + 1 : cells + 2 * Math.max(0, widths.length - 1);
}

export interface FitRequest {
  /** The widest cell of each column, its heading included. */
  natural: readonly number[];
  /** The terminal's width; none: every value whole (a pipe). */
  available: number | undefined;
  /** Whether the table has borders when it fits as it is. */
  bordered: boolean;
  /** Keep the borders even when narrow (cells of several lines need them to be read). */
  keepBorders?: boolean;
  /** Free-text columns that may be cut, each with the width it is never cut below. */
  shrink: ReadonlyMap<number, number>;
  /** Columns that may be left out, the least needed first, when cutting is not enough. */
  drop: readonly number[];
}

export interface TableLayout {
  /** The columns shown, by their index in the full table. */
  columns: number[];
  /** The width of each column shown. */
  widths: number[];
  bordered: boolean;
  /** The columns left out (none when the table fits). */
  dropped: number[];
}

/** Cuts the widest shrinkable column one column at a time until the table fits or none can give more. */
function shrinkToFit(
  natural: readonly number[],
  minimums: ReadonlyArray<number | undefined>,
  available: number,
  bordered: boolean,
): number[] {
  const widths = [...natural];
  let excess = tableWidth(widths, bordered) - available;
  while (excess > 0) {
    let widest = -1;
    widths.forEach((width, index) => {
      const minimum = minimums[index];
      if (minimum !== undefined && width > minimum && (widest < 0 || width > (widths[widest] ?? 0))) widest = index;
    });
    if (widest < 0) break;
    widths[widest] = (widths[widest] ?? 0) - 1;
    excess -= 1;
  }
  return widths;
}

/**
 * The layout of a table in `available` columns. As it is when it fits (or when there is no
 * width: values are never cut for a pipe). Otherwise its free-text columns are cut, widest
 * first, down to their minimum; when that is not enough the borders go (unless
 * `keepBorders`), then the columns of `drop`, one by one, until it fits. Identifiers, numbers and statuses are never cut:
 * a cut id cannot be given back to `show`, a cut number reads as another number.
 */
export function fitTable(request: FitRequest): TableLayout {
  const { natural, available, shrink, drop } = request;
  const all = natural.map((_, index) => index);
  if (available === undefined || tableWidth(natural, request.bordered) <= available) {
    return { columns: all, widths: [...natural], bordered: request.bordered, dropped: [] };
  }
  const attempts = [
    ...(request.bordered ? [{ dropping: 0, bordered: true }] : []),
    ...Array.from({ length: drop.length + 1 }, (_, dropping) => ({
      dropping,
      bordered: request.bordered && request.keepBorders === true,
    })),
  ];
  let layout: TableLayout | undefined;
  for (const attempt of attempts) {
    const dropped = drop.slice(0, attempt.dropping);
    const columns = all.filter((index) => !dropped.includes(index));
    const widths = shrinkToFit(
      columns.map((index) => natural[index] ?? 0),
      columns.map((index) => {
        const minimum = shrink.get(index);
        return minimum === undefined ? undefined : Math.min(minimum, natural[index] ?? 0);
      }),
      available,
      attempt.bordered,
    );
    layout = { columns, widths, bordered: attempt.bordered, dropped };
    if (tableWidth(widths, attempt.bordered) <= available) return layout;
  }
  // Nothing fits (a very narrow terminal): the narrowest there is; the terminal wraps it.
  return layout ?? { columns: all, widths: [...natural], bordered: request.bordered, dropped: [] };
}
