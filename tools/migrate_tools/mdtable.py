"""Markdown (pipe) tables: the one place their syntax is written.

    lines = table(["build", "total s"], [["patched", "1.20"]], align="lr")

gives

    | build | total s |
    |---|---:|
    | patched | 1.20 |

Invariants, so that every table renders as the columns it was given:
every row has exactly as many cells as the header (else ValueError);
a cell never contains a pipe or a line break ("|" is escaped as "\\|",
a line break becomes a space); an empty cell is one space ("| |").
"""

# Separator cell per alignment code: "-" (the renderer's default), "l",
# "c", "r".
SEPARATORS = {"-": "---", "l": ":---", "c": ":---:", "r": "---:"}


def cell(x):
    """A cell's text: str(x), with what would end the cell or the row
    escaped or replaced."""
    s = str(x).replace("|", "\\|")
    return " ".join(s.splitlines()) if "\n" in s or "\r" in s else s


def row(cells):
    """One table line, "| a | b |"."""
    return "|" + "|".join(f" {c} " if c else " "
                          for c in map(cell, cells)) + "|"


def separator(n, align=None):
    """The line under the header of n columns.  align: None (all
    default) or one code of SEPARATORS per column, e.g. "lrr"."""
    align = align or "-" * n
    if len(align) != n:
        raise ValueError(f"{len(align)} alignment codes for {n} columns")
    try:
        return "|" + "|".join(SEPARATORS[a] for a in align) + "|"
    except KeyError as e:
        raise ValueError(f"alignment code {e} (choose from "
                         f"{''.join(SEPARATORS)})") from None


def header(headers, align=None):
    """The header line and the separator: the start of a table whose rows
    a caller prints as they come (row())."""
    return [row(headers), separator(len(headers), align)]


def table(headers, rows, align=None):
    """The whole table as a list of lines (no trailing blank line)."""
    lines = header(headers, align)
    for r in rows:
        r = list(r)
        if len(r) != len(headers):
            raise ValueError(f"row of {len(r)} cells under {len(headers)} "
                             f"columns: {r}")
        lines.append(row(r))
    return lines
