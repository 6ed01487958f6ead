"""Source contracts: the files each CRM export must contain and their columns, as the loader lands them."""

from __future__ import annotations

from dataclasses import dataclass

from orchestration.core.errors import FunnelError


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[str, ...]

    @property
    def file_name(self) -> str:
        return f"{self.name}.csv"


SOURCES: dict[str, tuple[Table, ...]] = {
    "pipedrive": (
        Table("deal_changes", ("deal_id", "change_time", "changed_field_key", "new_value")),
        Table("activity", ("activity_id", "type", "assigned_to_user", "deal_id", "done", "due_to")),
        Table("activity_types", ("id", "name", "active", "type")),
        Table("stages", ("stage_id", "stage_name")),
        Table("users", ("id", "name", "email", "modified")),
        Table("fields", ("id", "field_key", "name", "field_value_options")),
    ),
    "field_crm": (
        Table(
            "leads",
            (
                "lead_id",
                "quote_number",
                "created_at",
                "status",
                "lead_source",
                "branch",
                "sales_person",
                "customer_name",
                "customer_email",
                "customer_phone",
                "origin_city",
                "destination_city",
                "region",
                "gdpr_consent",
            ),
        ),
        Table("bad_leads", ("lead_id", "quote_number", "reason", "flagged_at")),
        Table("lost_leads", ("quote_number", "lost_reason", "lost_at", "sales_person", "branch")),
        Table(
            "booked_opportunities",
            (
                "opportunity_id",
                "quote_number",
                "booked_at",
                "estimated_amount",
                "sales_person",
                "branch",
                "lead_source",
                "customer_email",
            ),
        ),
        Table(
            "jobs",
            (
                "job_id",
                "quote_number",
                "job_date",
                "status",
                "revenue",
                "sales_person",
                "branch",
                "customer_email",
                "origin_city",
                "destination_city",
            ),
        ),
        Table(
            "user_performance",
            ("sales_person", "date", "calls_made", "calls_answered", "talk_minutes", "branch"),
        ),
    ),
}


def source_tables(source: str) -> tuple[Table, ...]:
    try:
        return SOURCES[source]
    except KeyError:
        raise FunnelError(f"unknown source {source!r}", f"use one of: {', '.join(SOURCES)}") from None


def raw_schema(source: str) -> str:
    return f"raw_{source}"
