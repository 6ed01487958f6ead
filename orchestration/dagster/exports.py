"""Scheduled exports: `export_job` streams one mart to a file with `orchestration.serving.exports.export_model`
(the same code as `funnel export`), over a trailing window of days ending yesterday.

Launch it from the UI with its run config, or let `mart_export_schedule` (02:30, business time zone; stopped
until switched on, like every schedule) write `$FUNNEL_HOME/exports/<end day>/metrics_daily.parquet`.
"""

from datetime import date, timedelta
from pathlib import Path

from dagster import Config, DefaultScheduleStatus, OpExecutionContext, ScheduleDefinition, job, op

from orchestration.core.manifest import business_timezone, today
from orchestration.core.settings import funnel_home
from orchestration.serving.exports import export_model


class MartExportConfig(Config):
    model: str = "metrics_daily"
    fmt: str = "parquet"
    days: int = 35
    region: str | None = None
    out_dir: str = ""  # default: $FUNNEL_HOME/exports/<end day>/


def export_window(today: date, days: int) -> tuple[date, date]:
    """The `days` days ending yesterday (inclusive), as export_model takes them."""
    end = today - timedelta(days=1)
    return end - timedelta(days=days - 1), end


@op(description="Stream a mart to csv/json/parquet over a window of days, with bounded memory.")
def export_mart(context: OpExecutionContext, config: MartExportConfig) -> dict[str, object]:
    start, end = export_window(today(), config.days)
    out = Path(config.out_dir) if config.out_dir else funnel_home() / "exports" / end.isoformat()
    result = export_model(config.model, config.fmt, start, end, config.region, out)
    context.log.info(f"wrote {result.rows:,} rows of {config.model} to {result.path} (sha256 {result.sha256})")
    return {"path": str(result.path), "rows": result.rows, "sha256": result.sha256}


@job(description="Export one mart to a file (funnel export, scheduled).")
def export_job() -> None:
    export_mart()


def mart_export_schedule(status: DefaultScheduleStatus) -> ScheduleDefinition:
    return ScheduleDefinition(
        name="mart_export_schedule",
        job=export_job,
        cron_schedule="30 2 * * *",
        execution_timezone=business_timezone(),
        default_status=status,
        description="02:30 every day: metrics_daily of the last 35 days as parquet into $FUNNEL_HOME/exports/.",
    )
