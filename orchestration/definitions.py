"""The one Dagster `Definitions` of the product: `dagster dev -m orchestration.definitions` (or `funnel ui`).

- assets: `raw/<source>/<table>` (groups `raw_<source>`) and the dbt project, keyed `<layer>/<area>/<model>`
  (groups `staging_pipedrive`, `marts_funnel`, ...; seeds under `seeds/`): orchestration.assets
- checks: dbt data tests (dagster-dbt) and `gx_<mart>` (Great Expectations): orchestration.checks
- jobs and schedules: orchestration.schedules, orchestration.exports, orchestration.maintenance (purge,
  reconcile); sensors: orchestration.sensors; resources: orchestration.resources
"""

from dagster import Definitions

from orchestration.assets import DBT_ASSETS, RAW_ASSETS
from orchestration.checks import GX_CHECKS
from orchestration.exports import export_job, mart_export_schedule
from orchestration.maintenance import MAINTENANCE_JOBS, maintenance_schedules
from orchestration.resources import resources
from orchestration.schedules import JOBS, SCHEDULES, automation_status
from orchestration.sensors import SENSORS

defs = Definitions(
    assets=[*RAW_ASSETS, *DBT_ASSETS],
    asset_checks=GX_CHECKS,
    jobs=[*JOBS, export_job, *MAINTENANCE_JOBS],
    schedules=[
        *SCHEDULES,
        mart_export_schedule(automation_status()),
        *maintenance_schedules(automation_status()),
    ],
    sensors=SENSORS,
    resources=resources(),
)
