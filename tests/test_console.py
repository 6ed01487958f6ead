"""The build summary: a failing node reads as its name, its error line and its compiled SQL, nothing else."""

from __future__ import annotations

from collections import Counter

from orchestration.cli.console import BuildReport, NodeFailure, _error_lines

DBT_ERROR = """Database Error in model fct_jobs (models/marts/field_service/fct_jobs.sql)
  relation "raw_field_crm.jobs" does not exist
  LINE 18: from "warehouse"."raw_field_crm"."jobs"
                ^
  compiled code at target/run/funnel/models/marts/field_service/fct_jobs.sql"""


def test_a_failure_is_its_node_error_line_and_compiled_sql() -> None:
    failure = NodeFailure("model fct_jobs", "models/marts/field_service/fct_jobs.sql", _error_lines(DBT_ERROR))
    failure.compiled = "/repo/dbt_project/target/compiled/funnel/models/marts/field_service/fct_jobs.sql"
    assert failure.text().splitlines() == [
        "failed: model fct_jobs (models/marts/field_service/fct_jobs.sql)",
        '  relation "raw_field_crm.jobs" does not exist',
        '  LINE 18: from "warehouse"."raw_field_crm"."jobs"',
        "  compiled SQL: /repo/dbt_project/target/compiled/funnel/models/marts/field_service/fct_jobs.sql",
    ]


def test_the_summary_has_one_line_per_layer_in_build_order() -> None:
    report = BuildReport(0, elapsed=12.4, total=5)
    report.layers = {"tests": Counter(passed=2, warned=1), "marts": Counter(built=1), "seeds": Counter(built=1)}
    report.warnings = ["min_ratio (1 rows)"]
    assert report.summary().splitlines() == [
        "dbt: 5 nodes in 12s",
        "  seeds          1 built",
        "  marts          1 built",
        "  tests          2 passed, 1 warned",
        "warned: min_ratio (1 rows)",
    ]
