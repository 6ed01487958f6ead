"""Sales-funnel analytics: raw CRM landing, dbt transformations and Dagster orchestration on PostgreSQL."""
