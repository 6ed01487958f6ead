"""The one Dagster `Definitions` of the product: `dagster dev -m orchestration.definitions` (or `funnel ui`).

- assets: `raw/<source>/<table>` (groups `raw_<source>`) and the dbt project, keyed `<layer>/<area>/<model>`
  (groups `staging_pipedrive`, `marts_funnel`, ...; seeds under `seeds/`): orchestration.assets
- checks: dbt data tests (dagster-dbt) and `gx_<mart>` (Great Expectations): orchestration.checks
- jobs and schedules: orchestration.schedules; sensors: orchestration.sensors; resources: orchestration.resources
"""

from dagster import Definitions

from orchestration.assets import DBT_ASSETS, RAW_ASSETS
from orchestration.checks import GX_CHECKS
from orchestration.exports import export_job, mart_export_schedule
from orchestration.resources import resources
from orchestration.schedules import JOBS, SCHEDULES, automation_status
from orchestration.sensors import SENSORS

defs = Definitions(
    assets=[*RAW_ASSETS, *DBT_ASSETS],
    asset_checks=GX_CHECKS,
    jobs=[*JOBS, export_job],
    schedules=[*SCHEDULES, mart_export_schedule(automation_status())],
    sensors=SENSORS,
    resources=resources(),
)
