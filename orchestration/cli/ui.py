"""What `funnel ui`, `funnel docs` and `funnel check` run: the Dagster UI (on the instance of
orchestration.dagster.instance), the dbt docs site, the GX checkpoints."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from orchestration.core import warehouse
from orchestration.core.dbt import run_dbt
from orchestration.core.errors import FunnelError
from orchestration.dagster.instance import prepare_dagster_home


def _executable(name: str) -> str:
    candidate = Path(sys.executable).with_name(name)
    return str(candidate) if candidate.exists() else name


def ui_command(host: str = "127.0.0.1", port: int = 3000) -> list[str]:
    return [_executable("dagster"), "dev", "-m", "orchestration.dagster.definitions", "-h", host, "-p", str(port)]


def serve_ui(
    host: str = "127.0.0.1", port: int = 3000, *, home: Path | None = None, database: str | None = None
) -> int:
    """Run `dagster dev` (webserver + daemon for schedules, sensors, backfills, the run queue) until stopped."""
    env = prepare_dagster_home(home, database)
    print(f"Dagster UI on http://{host}:{port} (instance {env['DAGSTER_HOME']}); Ctrl-C stops it", flush=True)
    # Run from DAGSTER_HOME: the repo's dagster.yaml is a template, not an instance to pick up from the cwd.
    # In a process group of its own, so that stopping `funnel ui` (Ctrl-C, or SIGTERM from a service manager)
    # stops the webserver, the daemon and the code servers with it.
    process = subprocess.Popen(ui_command(host, port), env=env, cwd=env["DAGSTER_HOME"], start_new_session=True)

    def stop(signum: int, _frame: object) -> None:
        # Only leave wait(): stopping from inside the handler would run while wait() holds Popen's lock, so
        # the exited `dagster dev` could not be reaped and its group would look alive until SIGKILL.
        raise SystemExit(128 + signum)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        return process.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        stop_group(process)


def stop_group(process: subprocess.Popen[bytes], grace: float = 15.0) -> None:
    """SIGINT to the whole group (what Ctrl-C sends: dagster dev shuts its children down), then SIGTERM, then
    SIGKILL for whatever is left."""
    for sig, wait in ((signal.SIGINT, grace), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            process.poll()  # reap dagster dev once it exits: a zombie still counts as a member of the group
            try:
                os.killpg(process.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.2)


def serve_docs(port: int = 8080, host: str = "127.0.0.1") -> int:
    """`dbt docs generate` (catalog from the warehouse) then `dbt docs serve` on host:port until stopped."""
    from orchestration.serving.docs import generate_docs

    warehouse.start()
    folder = generate_docs()
    print(f"dbt docs in {folder}; serving on http://{host}:{port} (Ctrl-C stops it)", flush=True)
    try:
        return run_dbt(["docs", "serve", "--host", host, "--port", str(port), "--no-browser"]).returncode
    except KeyboardInterrupt:
        return 0


@dataclass
class GxSummary:
    outcomes: list  # list[orchestration.ops.gx.CheckpointOutcome]
    docs: Path

    @property
    def ok(self) -> bool:
        """No critical expectation failed (warnings such as freshness do not fail the command)."""
        return not any(o.critical_failures for o in self.outcomes)

    def text(self) -> str:
        lines = []
        for outcome in self.outcomes:
            critical, failed = len(outcome.critical_failures), len(outcome.failed)
            state = "FAILED" if critical else ("WARN" if failed else "OK")
            lines.append(
                f"{outcome.name:<34} {state:<6} {len(outcome.outcomes) - failed}/{len(outcome.outcomes)} expectations"
                f" passed (as of {outcome.as_of})"
            )
            errors = {f.error for f in outcome.failed}
            if failed == len(outcome.outcomes) and len(errors) == 1 and None not in errors:
                lines.append(f"    error    {errors.pop()}")  # e.g. the mart is not built in this database
                continue
            for failure in outcome.failed:
                sample = f"; e.g. {failure.sample[:3]}" if failure.sample else ""
                where = f" on {failure.column}" if failure.column else ""
                what = f"{failure.description or failure.expectation}{where}"
                lines.append(f"    {failure.severity:<8} {what}: observed {failure.error or failure.observed}{sample}")
        if not self.outcomes:
            lines.append("no GX checkpoints in expectations/gx/checkpoints/")
        lines.append(f"Data Docs: {self.docs}")
        return "\n".join(lines)


def run_gx_checks(as_of: date | str | None = None, checkpoints: list[str] | None = None) -> GxSummary:
    """Run the GX checkpoints (all, or those named) against the warehouse; Data Docs go to $FUNNEL_HOME/gx_docs."""
    from orchestration.ops import gx

    warehouse.start()
    # Only the checkpoints of marts in the project: a switched-off source's marts are not checked.
    built = set(gx.mart_relations())
    available = [name for name in gx.checkpoint_names() if name in built]
    names = checkpoints or available
    unknown = sorted(set(names) - set(gx.checkpoint_names()))
    if unknown:
        raise FunnelError(f"no GX checkpoint {', '.join(unknown)}", f"use one of: {', '.join(available)}")
    off = sorted(set(names) - built)
    if off:
        raise FunnelError(
            f"{', '.join(off)}: its source is switched off (nothing loaded)", "load it, or set FUNNEL_SOURCES"
        )
    day = date.fromisoformat(as_of) if isinstance(as_of, str) else as_of
    outcomes = gx.run_all(day, names) if names else []
    return GxSummary(outcomes, gx.docs_dir() / "index.html")
