"""Nightly maintenance jobs: the retention purge and the reconcile audit, each on its own schedule.

Both run dbt against the warehouse, so like every dbt job they carry the run tag `funnel/warehouse=dbt` and
their ops take a slot of the `dbt_warehouse` pool: they never interleave with a daily run or a backfill.
Schedules start stopped, like every schedule here.

- `privacy_purge_job` / `privacy_purge_schedule` (04:00): `funnel purge --as-of <today>` (orchestration.ops.privacy)
- `reconcile_job` / `reconcile_schedule` (05:00): `funnel reconcile --source-dt <yesterday>`; fails the run on a
  mismatch, with the report in the log.
"""

from datetime import timedelta

from dagster import DefaultScheduleStatus, Failure, OpExecutionContext, ScheduleDefinition, job, op

from orchestration.core.manifest import business_timezone, today
from orchestration.dagster.assets import DBT_POOL, DBT_RUN_TAGS


@op(pool=DBT_POOL, description="Delete or anonymise every raw row past its retention date, rebuild, audit.")
def purge_expired_rows(context: OpExecutionContext) -> dict[str, int]:
    from orchestration.ops.privacy import purge

    change = purge(today())
    context.log.info(change.text())
    return {"rows": change.total_rows, "passes": change.passes}


@op(pool=DBT_POOL, description="raw = staged + rejected per table; every incremental model equals a full refresh.")
def reconcile_warehouse(context: OpExecutionContext) -> int:
    from orchestration.ops.reconcile import format_report, reconcile

    report = reconcile(source_dt=(today() - timedelta(days=1)).isoformat())
    text = format_report(report)
    if not report.ok:
        raise Failure(description=f"{report.mismatches} mismatch(es)", metadata={"report": text})
    context.log.info(text)
    return report.mismatches


@job(description="Retention purge (funnel purge --as-of today).", tags=DBT_RUN_TAGS)
def privacy_purge_job() -> None:
    purge_expired_rows()


@job(description="Nightly audit (funnel reconcile for yesterday).", tags=DBT_RUN_TAGS)
def reconcile_job() -> None:
    reconcile_warehouse()


MAINTENANCE_JOBS = [privacy_purge_job, reconcile_job]


def maintenance_schedules(status: DefaultScheduleStatus) -> list[ScheduleDefinition]:
    zone = business_timezone()
    return [
        ScheduleDefinition(
            name=job.name.removesuffix("_job") + "_schedule",
            job=job,
            cron_schedule=cron,
            execution_timezone=zone,
            default_status=status,
            description=description,
        )
        for job, cron, description in (
            (privacy_purge_job, "0 4 * * *", "04:00 every day: purge what passed its retention date."),
            (
                reconcile_job,
                "0 5 * * *",
                "05:00 every day: reconcile raw, staging and every incremental model for yesterday.",
            ),
        )
    ]
