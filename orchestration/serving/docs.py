"""The dbt docs site."""

from __future__ import annotations

from pathlib import Path

from orchestration.core.dbt import run_dbt
from orchestration.core.errors import FunnelError
from orchestration.core.manifest import target_path


def generate_docs(target: str | None = None, static: bool = True) -> Path:
    """`dbt docs generate` (with a single-file static_index.html that opens from disk); returns the folder."""
    args = ["docs", "generate"] + (["--static"] if static else [])
    result = run_dbt(args, target=target, capture=True)
    if result.returncode != 0:
        tail = (result.stdout + result.stderr).strip().splitlines()[-5:]
        raise FunnelError("dbt docs generate failed: " + " | ".join(tail), "run `funnel build` first")
    return target_path().resolve()
