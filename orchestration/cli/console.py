"""dbt builds as a person reads them: a progress line, a summary per layer, and only what failed.

dbt runs with `--log-format json`; its events are counted instead of printed. `verbose=True` streams dbt's own
log unchanged. A failure is shown as the node, its first error lines and the path of its compiled SQL.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import typer

from orchestration.core.dbt import dbt_command, dbt_env, run_dbt
from orchestration.core.settings import DBT_PROJECT_DIR

RESULT_EVENTS = {"LogModelResult", "LogSeedResult", "LogTestResult", "LogSnapshotResult", "LogNodeNoOpResult"}
# How a node's own result reads in the summary: built, passed, warned, failed, skipped.
OUTCOME = {"success": "built", "pass": "passed", "warn": "warned", "fail": "failed", "error": "failed"}
MAX_FAILURES_SHOWN = 10


@dataclass
class NodeFailure:
    name: str
    path: str = ""
    lines: list[str] = field(default_factory=list)
    compiled: str = ""

    def text(self) -> str:
        out = [f"failed: {self.name}" + (f" ({self.path})" if self.path else "")]
        out += [f"  {line}" for line in self.lines[:4]]
        if self.compiled:
            out.append(f"  compiled SQL: {self.compiled}")
        return "\n".join(out)


@dataclass
class BuildReport:
    returncode: int
    elapsed: float = 0.0
    total: int = 0
    layers: dict[str, Counter[str]] = field(default_factory=dict)
    failures: dict[str, NodeFailure] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    nothing_selected: bool = False

    def summary(self) -> str:
        lines = [f"dbt: {self.total} nodes in {self.elapsed:.0f}s"]
        for layer, counts in sorted(self.layers.items(), key=lambda kv: _layer_rank(kv[0])):
            ranked = sorted(counts.items(), key=lambda kv: _outcome_rank(kv[0]))
            parts = ", ".join(f"{n} {outcome}" for outcome, n in ranked)
            lines.append(f"  {layer:<14} {parts}")
        for name in self.warnings[:MAX_FAILURES_SHOWN]:
            lines.append(f"warned: {name}")
        failures = list(self.failures.values())
        lines += [failure.text() for failure in failures[:MAX_FAILURES_SHOWN]]
        if len(failures) > MAX_FAILURES_SHOWN:
            lines.append(f"... and {len(failures) - MAX_FAILURES_SHOWN} more failures (rerun with --verbose)")
        return "\n".join(lines)


def _outcome_rank(outcome: str) -> int:
    return ["built", "passed", "warned", "failed", "skipped"].index(outcome) if outcome in OUTCOME.values() else 9


def _layer_rank(layer: str) -> int:
    order = ["seeds", "staging", "intermediate", "marts", "quality", "privacy", "semantic", "tests"]
    return order.index(layer) if layer in order else len(order) - 1


def _layer(data: dict[str, object]) -> str:
    info = data.get("node_info") or {}
    assert isinstance(info, dict)
    kind = str(info.get("resource_type", ""))
    if kind in ("test", "unit_test"):
        return "tests"
    if kind == "seed":
        return "seeds"
    path = str(info.get("node_path", ""))
    return path.split("/", 1)[0] if "/" in path else kind


def _error_lines(message: str) -> list[str]:
    """dbt's multi-line error without its header ('Database Error in ...') and compiled-code footer."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    return [
        line
        for line in lines
        if not line.startswith("compiled code at")
        and " Error in " not in line
        and not line.startswith("^")
        and not _is_header(line)
    ]


def _is_header(line: str) -> bool:
    return line == "Encountered an error:" or (line.endswith(" Error") and len(line.split()) <= 3)


class _Progress:
    """One line rewritten in place on a terminal; a line per quarter of the nodes otherwise."""

    def __init__(self, say: Callable[[str], None]) -> None:
        self.say = say
        self.tty = sys.stdout.isatty()
        self.last = 0.0
        self.quarter = 0

    def update(self, done: int, total: int, failed: int, started: float) -> None:
        text = f"  building: {done}/{total} nodes, {failed} failed, {time.monotonic() - started:.0f}s"
        if self.tty:
            now = time.monotonic()
            if now - self.last > 0.2 or done == total:
                sys.stdout.write("\r" + text.ljust(60))
                sys.stdout.flush()
                self.last = now
        elif total and done * 4 // total > self.quarter:
            self.quarter = done * 4 // total
            self.say(text)

    def close(self) -> None:
        if self.tty and self.last:
            sys.stdout.write("\n")
            sys.stdout.flush()


def run_build(
    args: list[str],
    variables: dict[str, object] | None = None,
    *,
    target: str | None = None,
    verbose: bool = False,
    say: Callable[[str], None] = print,
) -> BuildReport:
    """Run a dbt command that builds nodes (build, run, seed, test) and report it as a short summary."""
    started = time.monotonic()
    if verbose:
        return BuildReport(run_dbt(args, variables, target=target).returncode, time.monotonic() - started)
    report = BuildReport(0)
    progress = _Progress(say)
    failed = 0
    other: list[str] = []
    with subprocess.Popen(
        dbt_command([*args, "--log-format", "json"], variables),
        env=dbt_env(target=target, variables=variables),
        cwd=DBT_PROJECT_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as process:
        assert process.stdout is not None
        for raw in process.stdout:
            try:
                event = json.loads(raw)
                name, data, message = event["info"]["name"], event["data"], event["info"]["msg"]
            except (ValueError, KeyError, TypeError):
                other.append(raw.rstrip())
                continue
            if name in RESULT_EVENTS or name == "SkippingDetails":
                outcome = "skipped" if name == "SkippingDetails" else OUTCOME.get(str(data.get("status")), "built")
                report.layers.setdefault(_layer(data), Counter())[outcome] += 1
                report.total = int(data.get("total") or data.get("num_models") or report.total)
                failed += outcome == "failed"
                if outcome == "warned":
                    report.warnings.append(f"{data.get('name', '')} ({data.get('num_failures', '?')} rows)")
                progress.update(sum(sum(c.values()) for c in report.layers.values()), report.total, failed, started)
            elif name == "RunResultFailure":
                node = str(data.get("node_name", ""))
                kind = str(data.get("resource_type", ""))
                report.failures.setdefault(node, NodeFailure(f"{kind} {node}", str(data.get("path", ""))))
            elif name == "RunResultError":
                node = str((data.get("node_info") or {}).get("node_name", ""))
                failure = report.failures.setdefault(node or "dbt", NodeFailure(node or "dbt"))
                failure.lines = _error_lines(str(data.get("msg", message)))
            elif name == "SQLCompiledPath":
                node = str((data.get("node_info") or {}).get("node_name", ""))
                if node in report.failures:
                    report.failures[node].compiled = str(DBT_PROJECT_DIR / str(data.get("path", "")))
            elif name in ("NoNodesForSelectionCriteria", "NothingToDo"):
                report.nothing_selected = True
            elif event["info"].get("level") == "error" and name not in ("RunResultErrorNoMessage",):
                report.failures.setdefault(name, NodeFailure("dbt", lines=_error_lines(message)))
        report.returncode = process.wait()
    progress.close()
    report.elapsed = time.monotonic() - started
    if report.returncode != 0 and not report.failures:
        # dbt stopped before any node (a parse or connection error): its plain output is the message, less the
        # "Encountered an error:" / "Runtime Error" headers
        lines = [line.strip() for line in other if line.strip() and not _is_header(line.strip())]
        report.failures["dbt"] = NodeFailure("dbt", lines=lines[-6:][:2])
    return report


def record_in_dagster(
    variables: dict[str, object], full_refresh: bool, gx: Sequence[Any] = (), build: bool = True
) -> None:
    """Record a CLI build (and its GX outcomes) for `funnel ui`; a failure to record only warns (the build
    itself succeeded, the record is a convenience)."""
    from orchestration.dagster import report

    try:
        log = report.record(variables, full_refresh, gx, build)
    except OSError as exc:
        typer.echo(f"warning: could not record the build in Dagster ({exc})", err=True)
        return
    if log:
        what = "this build" if build else "these checks"
        typer.echo(f"dagster: recording {what} for `funnel ui` in the background (log: {log})")
