"""What the commands share: the usage-error exit and terminal tables."""

from collections.abc import Callable, Sequence
from typing import TypeVar

import click

F = TypeVar("F", bound=Callable[..., object])

EXIT_USAGE = 2


class UsageExit(click.ClickException):
    """A configuration mistake the user must fix: prints ``Error: ...`` and exits with 2."""

    exit_code = EXIT_USAGE


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Left-aligned columns separated by two spaces, for terminal output.

    >>> print(format_table(["A", "BB"], [["x", 1], ["yyy", None]]))
    A    BB
    x    1
    yyy  -
    """
    cells = [[str(h) for h in headers]] + [["-" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in cells
    )


def on_off(value: bool) -> str:
    return "on" if value else "off"


def format_option(*, default: str = "table", what: str = "Output") -> Callable[[F], F]:
    """The ``--format table|json`` option every command that prints results shares."""
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(["table", "json"]),
        default=default,
        show_default=True,
        help=f"{what} as an aligned table or as JSON.",
    )


def human_bytes(size: int) -> str:
    """A size in B, KiB, MiB or GiB.

    >>> human_bytes(40960)
    '40.0 KiB'
    """
    if size < 1024:
        return f"{size} B"
    value, unit = size / 1024, "KiB"
    for bigger in ("MiB", "GiB"):
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return f"{value:.1f} {unit}"
