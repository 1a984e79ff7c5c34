"""deAPI prices and balance for the person running the batch: the dry-run table, the question before
a run that costs more than the account holds."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from engine.errors import UsageError
from engine.providers.deapi_estimate import Estimate, dollars, estimate
from engine.settings import Settings

# Before a real run only this many links are priced; their average stands for the rest.
PREFLIGHT_SAMPLE = 10


def _transcriber(settings: Settings) -> Any:
    from engine.providers.deapi_plan import deapi_transcriber

    return deapi_transcriber(settings)


def deapi_dry_run(sources: Any, settings: Settings, out: Console) -> int:
    """Price each item with deAPI, then the total and the balance."""
    deapi = _transcriber(settings)
    try:
        result = estimate(deapi, sources.sources)
    finally:
        deapi.close()
    table = Table(title="deAPI prices", show_header=True, header_style="bold")
    table.add_column("item", overflow="fold")
    table.add_column("price", justify="right")
    table.add_column("note", overflow="fold")
    for row in result.items:
        table.add_row(escape(row.source), dollars(row.price), escape(row.note))
    out.print(table)
    out.print(summary(result), highlight=False)
    out.print("[dim]Dry run: only deAPI's price and balance endpoints were asked; nothing was "
              "submitted or written.[/]")  # fmt: skip
    unpriced = [row for row in result.items if row.price is None]
    return 1 if unpriced or result.exceeds_balance else 0


def summary(result: Estimate) -> str:
    about = f" (from {result.sampled} priced links)" if result.sampled else ""
    line = f"total {dollars(result.total)}{about} · balance {dollars(result.balance)}"
    if result.exceeds_balance:
        line += " · the estimate is more than the balance"
    return line


def check_funds(
    sources: Any, settings: Settings, err: Console, *, headless: bool, yes: bool
) -> None:
    """Before a deAPI run: estimate it; above the balance ask (headless: refuse without --yes)."""
    deapi = _transcriber(settings)
    try:
        result = estimate(deapi, sources, sample_urls=PREFLIGHT_SAMPLE)
    finally:
        deapi.close()
    err.print(f"deAPI: {summary(result)}", highlight=False)
    if not result.exceeds_balance:
        return
    if yes:
        err.print("[yellow]Running anyway (--yes): the batch pauses when the balance runs low.[/]")
        return
    if headless:
        raise UsageError(
            f"this batch is estimated at {dollars(result.total)}, more than the deAPI balance "
            f"of {dollars(result.balance)}",
            hint="top up the account, run fewer items, or pass --yes to run anyway",
        )
    from rich.prompt import Confirm

    if not Confirm.ask("The estimate is more than the balance. Run anyway?", console=err):
        raise UsageError("not started: the estimate is more than the deAPI balance")
    err.print("Running: the batch pauses when the balance runs low.")
