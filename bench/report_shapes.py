"""What a history or peer result means: its targets and its markdown. The full benchmark's report shows the same
targets from the latest such result of its size, so one table tells every target."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

SUBGRAPH_TARGET = "funnel subgraph full build (models only) <= 3x the single-pass lower bound"
HISTORY_TARGET = "daily run grows <= 1.3x for 5x history"
MET = {True: "yes", False: "**no**", None: "n/a"}


def ok(measure: dict[str, Any] | None) -> bool:
    return measure is not None and measure.get("status") == "ok"


def cell(measure: dict[str, Any] | None, fmt: Callable[[dict[str, Any]], str]) -> str:
    """A table cell: the measure formatted, else why there is none."""
    if not measure:
        return "n/a"
    if measure.get("status") == "ok":
        return fmt(measure)
    return str(measure.get("reason", measure.get("status", "n/a"))).replace("|", "/")


def latest_shape(out_dir: Path, size: str, shape: str) -> dict[str, Any] | None:
    """The newest `<size>-<shape>-<date>.json` in out_dir (not a baseline or another size's)."""
    pattern = re.compile(rf"^{re.escape(size)}-{shape}-\d{{4}}-\d{{2}}-\d{{2}}\.json$")
    files = sorted(p for p in out_dir.glob(f"{size}-{shape}-*.json") if pattern.match(p.name))
    if not files:
        return None
    result: dict[str, Any] = json.loads(files[-1].read_text())
    result["_file"] = files[-1].name
    return result


def _target(target: str, measured: str, met: bool | None, note: str = "") -> dict[str, Any]:
    return {"target": target, "measured": measured, "met": met, "note": note}


def _source(result: dict[str, Any]) -> str:
    return f"from {result['_file']}" if "_file" in result else ""


def history_target(result: dict[str, Any] | None) -> dict[str, Any]:
    """Daily-run seconds at 5x the history over those at 1x, at the same rows per day."""
    if result is None:
        return _target(HISTORY_TARGET, "n/a", None, "no history result of this size: python -m bench --shape history")
    ratio = result.get("daily_run_ratio")
    short, long = result["datasets"]
    if not ratio:
        return _target(HISTORY_TARGET, "n/a", None, f"a daily run failed; {_source(result)}".strip("; "))
    runs = [d["measures"]["daily_incremental"]["seconds"] for d in (short, long)]
    notes = [
        f"dbt elapsed x{ratio['dbt_elapsed']:.2f}, models' execution x{ratio['models_exec']:.2f}",
        f"{short['rows_per_day']:,} vs {long['rows_per_day']:,} raw rows per day",
    ]
    if source := _source(result):
        notes.append(source)
    return _target(
        HISTORY_TARGET,
        f"{runs[0]:.1f} s ({short['days']:,} days) -> {runs[1]:.1f} s ({long['days']:,} days) = x{ratio['wall']:.2f}",
        ratio["wall"] <= 1.3,
        "; ".join(notes),
    )


def peer_targets(result: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Ours faster than the peer on the full build and on the daily run; the subgraph against the lower bound."""
    names = ("our funnel full build faster than the peer's", "our daily run faster than the peer's")
    if result is None:
        why = "no peer result of this size: python -m bench --peer"
        return [_target(n, "n/a", None, why) for n in (*names, SUBGRAPH_TARGET)]
    m, out = result["measures"], []
    for name, key in zip(names, ("full_build", "daily_run"), strict=True):
        ours, peer = m.get(f"ours_{key}"), m.get(f"peer_{key}")
        if not (ok(ours) and ok(peer)) or ours is None or peer is None:
            out.append(_target(name, "n/a", None, f"a run failed; {_source(result)}"))
            continue
        notes = [f"peer / ours = x{peer['seconds'] / ours['seconds']:.2f}"]
        if "reparse_new_vars_s" in ours:
            with_parse = ours["seconds"] + ours["reparse_new_vars_s"]
            notes.append(
                f"ours with its parse of the new source_dt: {with_parse:.1f} s "
                f"({'faster' if with_parse < peer['seconds'] else 'not faster'})"
            )
        if source := _source(result):
            notes.append(source)
        out.append(
            _target(
                name,
                f"ours {ours['seconds']:.1f} s vs peer {peer['seconds']:.1f} s",
                ours["seconds"] < peer["seconds"],
                "; ".join(notes),
            )
        )
    lb = m.get("lower_bound")
    if ok(lb) and lb is not None:
        out.append(
            _target(
                SUBGRAPH_TARGET,
                f"x{lb['ours_full_build_exec_ratio']} (models' execution over {lb['seconds']:.2f} s); "
                f"dbt run wall x{lb['ours_full_build_ratio']}",
                lb["ours_full_build_exec_ratio"] <= 3,
                _source(result),
            )
        )
    else:
        out.append(_target(SUBGRAPH_TARGET, "n/a", None, (lb or {}).get("reason", "")))
    return out


def shape_targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    return [history_target(result)] if result["shape"] == "history" else peer_targets(result)


# ---------------------------------------------------------------------------------------------- markdown


def slowest(measure: dict[str, Any], top: int = 3) -> str:
    """The run's slowest models, where its time goes."""
    return ", ".join(f"{n['node']} {n['seconds']:.1f} s" for n in measure.get("slowest_nodes", [])[:top]) or "n/a"


def seconds(measure: dict[str, Any]) -> str:
    return f"{measure['seconds']:.1f} s"


def machine_line(result: dict[str, Any]) -> str:
    mach = result["machine"]
    return (
        f"Machine: {mach['nproc']} CPUs ({mach['cpu_model']}), {mach['ram_gb']} GB RAM, {mach['os']}; "
        f"PostgreSQL {mach['postgres']}, dbt-core {mach['dbt_core']}, dbt-postgres {mach['dbt_postgres']}, "
        f"Python {mach['python']}. Median of {result['repeat']} run(s); load average "
        f"{mach['load_average_at_start'][0]:.1f} at start, {mach['load_average_at_end'][0]:.1f} at end."
    )


def tables(rows: list[tuple[str, str, str]], result: dict[str, Any]) -> list[str]:
    """The measures table, the targets table and the checks line."""
    return [
        "| Measure | Result | Detail |",
        "|---|---|---|",
        *[f"| {a} | {b} | {c} |" for a, b, c in rows],
        "",
        "| Target | Measured | Met |",
        "|---|---|---|",
        *[
            f"| {t['target']} | {t['measured']}{' — ' + t['note'] if t['note'] else ''} | {MET[t['met']]} |"
            for t in result["targets"]
        ],
        "",
        "Correctness checks: "
        + ("all passed" if result["checks_passed"] else "**FAILED**")
        + " — "
        + "; ".join(
            f"{c['name']}: {'ok' if c['passed'] else 'n/a' if c['passed'] is None else 'FAILED'}"
            for c in result["checks"]
        ),
    ]


def history_markdown(result: dict[str, Any]) -> str:
    rows = []
    for d in result["datasets"]:
        m = d["measures"]
        label = f"{d['days']:,} days, {d['deals']:,} deals"
        rows += [
            (
                f"{label}: data",
                f"{d['raw_rows']:,} raw rows",
                f"{d['rows_per_day']:,} per day; {d['held_back']['rows']:,} rows of {d['held_back']['day']} held back; "
                f"reference full refresh (no tests) {d['reference_full_build_s']:.1f} s",
            ),
            (
                f"{label}: day landed (`funnel load`)",
                cell(m.get("daily_load"), lambda x: f"{x['seconds']:.2f} s"),
                cell(m.get("daily_load"), lambda x: f"{x['rows']:,} rows"),
            ),
            (
                f"{label}: daily run (every model and data test)",
                cell(m.get("daily_incremental"), lambda x: f"{x['seconds']:.1f} s"),
                cell(
                    m.get("daily_incremental"),
                    lambda x: (
                        f"dbt elapsed {x['dbt_elapsed_s']:.1f} s; execution: incremental models "
                        f"{x['incremental_models_exec_s']:.1f} s, other models {x['other_nodes_exec_s']:.1f} s, "
                        f"tests {x['tests_exec_s']:.1f} s; slowest: {slowest(x)}; evening before (full refresh at "
                        f"end - 1) {x['setup_full_build_s']:.1f} s"
                    ),
                ),
            ),
        ]
    short, long = result["datasets"]
    lines = [
        f"### Benchmark, size {result['size']}, history: {short['days']:,} vs {long['days']:,} days at the same "
        f"rows per day ({result['date']})",
        "",
        machine_line(result) + f" dbt selection: {result['dbt_selection']}.",
        "",
        *tables(rows, result),
    ]
    return "\n".join(lines) + "\n"


def peer_markdown(result: dict[str, Any]) -> str:
    m, ds = result["measures"], result["dataset"]

    def side(key: str, what: str) -> tuple[str, str, str]:
        ours, peer = m.get(f"ours_{key}"), m.get(f"peer_{key}")
        ratio = f"peer / ours = x{peer['seconds'] / ours['seconds']:.2f}" if ok(ours) and ok(peer) and ours else ""
        detail = cell(
            ours,
            lambda x: (
                f"ours: {x['models']} models, execution {x['models_exec_s']:.1f} s"
                + (f" (slowest: {slowest(x)})" if x.get("slowest_nodes") else "")
            ),
        )
        detail += "; " + cell(peer, lambda x: f"peer: {x['models']} models, execution {x['models_exec_s']:.1f} s")
        if key == "daily_run" and ok(ours) and ours and "reparse_new_vars_s" in ours:
            detail += f"; ours also parses for the new source_dt: {ours['reparse_new_vars_s']:.1f} s"
        return what, f"ours {cell(ours, seconds)} / peer {cell(peer, seconds)}", f"{ratio}; {detail}"

    rows = [
        side("full_build", "Full build at end - 1 (models only)"),
        (
            "Day landed (`funnel load`)",
            cell(m.get("daily_load"), lambda x: f"{x['seconds']:.2f} s"),
            cell(m.get("daily_load"), lambda x: f"{x['rows']:,} rows (not in either daily run)"),
        ),
        side("daily_run", "Daily run at end (models only)"),
        (
            "Lower bound (lower_bound.sql, one pass)",
            cell(m.get("lower_bound"), lambda x: f"{x['seconds']:.2f} s"),
            cell(
                m.get("lower_bound"),
                lambda x: (
                    f"our full build: models' execution x{x['ours_full_build_exec_ratio']}, "
                    f"wall x{x['ours_full_build_ratio']}"
                ),
            ),
        ),
    ]
    lines = [
        f"### Benchmark, size {result['size']}, peer: our funnel subgraph vs the simple project "
        f"({ds['deals']:,} deals, {ds['history_days']} days, {result['date']})",
        "",
        machine_line(result) + f" Raw rows: {ds['raw_rows']:,} (Pipedrive only). Ours: `dbt run --select "
        "+rep_sales_funnel_monthly` (full refresh, then incremental for the landed day). Peer: bench/peer_project "
        "(staging views, daily and monthly tables, the monthly funnel), `dbt run` both times.",
        "",
        *tables(rows, result),
    ]
    return "\n".join(lines) + "\n"


def shape_markdown(result: dict[str, Any]) -> str:
    return history_markdown(result) if result["shape"] == "history" else peer_markdown(result)
