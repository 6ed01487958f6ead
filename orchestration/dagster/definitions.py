"""The one Dagster `Definitions` of the product: `dagster dev -m orchestration.dagster.definitions` (or `funnel ui`).

Each concern has its module in this package:
- assets: `raw/<source>/<table>` (groups `raw_<source>`) and the dbt project, keyed `<layer>/<area>/<model>`
  (groups `staging_pipedrive`, `marts_funnel`, ...; seeds under `seeds/`): assets.py, keys in translator.py
- checks: dbt data tests (dagster-dbt) and `gx_<mart>` (Great Expectations): checks.py
- jobs and schedules: schedules.py, exports.py, maintenance.py (purge, reconcile); sensors: sensors.py;
  resources: resources.py; partitions: partitions.py
"""

from dagster import Definitions

from orchestration.dagster.assets import DBT_ASSETS, RAW_ASSETS
from orchestration.dagster.checks import GX_CHECKS
from orchestration.dagster.exports import export_job, mart_export_schedule
from orchestration.dagster.maintenance import MAINTENANCE_JOBS, maintenance_schedules
from orchestration.dagster.resources import resources
from orchestration.dagster.schedules import JOBS, SCHEDULES, automation_status
from orchestration.dagster.sensors import SENSORS

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
