"""`funnel kpi`: the KPI catalogue (MetricFlow metrics of the semantic layer) from the command line."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Annotated

import typer

from orchestration.core.errors import ExitCode, FunnelError

kpi_app = typer.Typer(help="The KPI catalogue: MetricFlow metrics of the semantic layer.", no_args_is_help=True)


@kpi_app.command("list")
def kpi_list(
    module: Annotated[str | None, typer.Option(help="Only KPIs of this module, e.g. INSIDE_SALES")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json")] = "table",
) -> None:
    """Print the KPI registry: name, modules, object model, label (`funnel kpi show NAME`: the definition)."""
    from orchestration.serving.kpis import list_kpis

    kpis = list_kpis(module)
    rows = [(k.name, ",".join(k.modules), k.object_model, k.label) for k in kpis]
    typer.echo(render_table(["kpi", "modules", "object_model", "label"], rows, fmt))
    if fmt == "table":
        typer.echo(f"{len(kpis)} KPIs")


def render_table(columns: Sequence[str], rows: Sequence[Sequence[object]], fmt: str) -> str:
    """Rows as an aligned table with a header (people), CSV or JSON Lines (machines)."""
    import csv
    import io
    import json

    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)
        return buffer.getvalue().rstrip("\n")
    if fmt == "json":
        return "\n".join(json.dumps(dict(zip(columns, row, strict=True)), default=str) for row in rows)
    if fmt != "table":
        raise FunnelError(f"--format {fmt!r} is not a format", "use table, csv or json")
    text = [["" if value is None else str(value) for value in row] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in text)]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in text]
    return "\n".join(line.rstrip() for line in lines)


@kpi_app.command("show")
def kpi_show(kpi: Annotated[str, typer.Argument(help="KPI name (funnel kpi list)")]) -> None:
    """Print one KPI's definition: what it counts, how, from which table, for which modules."""
    from orchestration.serving.kpis import list_kpis

    found = {k.name: k for k in list_kpis(include_helpers=True)}
    if kpi not in found:
        raise FunnelError(f"unknown KPI {kpi!r}", "see `funnel kpi list` (a switched-off source's KPIs are not listed)")
    item = found[kpi]
    typer.echo(f"{item.name} — {item.label}")
    typer.echo(f"  type:         {item.type}")
    typer.echo(f"  modules:      {', '.join(item.modules) or '-'}")
    typer.echo(f"  object model: {item.object_model or '-'}")
    typer.echo(f"  definition:   {item.description.replace('**', '')}")


@kpi_app.command("query")
def kpi_query(
    kpi: Annotated[str, typer.Argument(help="KPI name (funnel kpi list)")],
    by: Annotated[
        list[str] | None, typer.Option(help="day/week/month/quarter/year and/or dimensions (default month)")
    ] = None,
    where: Annotated[list[str] | None, typer.Option(help="Filter, e.g. \"lead_source__channel = 'online'\"")] = None,
    start: Annotated[str | None, typer.Option(help="First day, YYYY-MM-DD")] = None,
    end: Annotated[str | None, typer.Option(help="Last day, YYYY-MM-DD")] = None,
    show_sql: Annotated[bool, typer.Option("--sql", help="Print the SQL MetricFlow generated")] = False,
    fmt: Annotated[str, typer.Option("--format", help="table (rounded), csv or json (exact values)")] = "table",
) -> None:
    """Answer a KPI from the semantic layer (MetricFlow on Postgres)."""
    from orchestration.serving.kpis import list_kpis, query_kpi

    answer = query_kpi(kpi, by or ["month"], where or [], start, end)
    if show_sql:
        typer.echo(answer.sql)
    rows = answer.rows
    if fmt == "table":
        kinds = {k.name: k for k in list_kpis(include_helpers=True)}
        rows = [tuple(human_value(column, value, kinds) for column, value in zip(answer.columns, row, strict=True))
                for row in rows]  # fmt: skip
    typer.echo(render_table(answer.columns, rows, fmt))
    if not answer.rows:
        typer.echo(f"warning: no rows for these filters (exit code {int(ExitCode.NO_ROWS)})", err=True)
        raise typer.Exit(ExitCode.NO_ROWS)


def human_value(column: str, value: object, kpis: Mapping[str, object]) -> object:
    """Rates as percentages with one decimal, other fractions rounded to two decimals."""
    if not isinstance(value, float | Decimal) or isinstance(value, bool):
        return value
    if column in kpis and ("rate" in column or column.endswith("_share")):
        return f"{float(value) * 100:.1f}%"
    return f"{float(value):,.2f}"
