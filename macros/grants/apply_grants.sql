{#-
  How dbt's `grants` config is applied on Postgres in this project (dbt_project.yml sets it per folder:
  marts -> bi_reader, analyst; intermediate, quality -> analyst; staging and raw -> nobody).

  Two additions to dbt's default__apply_grants:
  - a grantee the server does not have (roles are created by `funnel db roles`) is skipped with a warning,
    so a developer's server without the serving roles still builds; on the prod target it is an error;
  - every role granted a privilege on a relation also gets USAGE on the relation's schema (dbt grants
    table privileges only, and without USAGE a SELECT grant cannot be used).
  Revocation is dbt's: a grant that is no longer configured is revoked on the next build.
-#}
{% macro postgres__apply_grants(relation, grant_config, should_revoke=True) %}
    {%- if grant_config -%}
        {%- set existing = serving_existing_roles() -%}
        {%- set granted = {} -%}
        {%- set grantees_seen = [] -%}
        {%- set missing = [] -%}
        {%- for privilege, grantees in grant_config.items() -%}
            {%- set keep = [] -%}
            {%- for grantee in grantees -%}
                {%- if grantee | lower in existing -%}
                    {%- do keep.append(grantee) -%}
                    {%- if grantee not in grantees_seen -%}{%- do grantees_seen.append(grantee) -%}{%- endif -%}
                {%- elif grantee not in missing -%}
                    {%- do missing.append(grantee) -%}
                {%- endif -%}
            {%- endfor -%}
            {%- do granted.update({privilege: keep}) -%}
        {%- endfor -%}
        {%- if missing and target.name == 'prod' -%}
            {{ exceptions.raise_compiler_error(
                "grants on " ~ relation ~ ": role(s) " ~ (missing | join(', ')) ~ " do not exist on this server;"
                ~ " create them first with `funnel db roles`") }}
        {%- elif missing -%}
            {{ exceptions.warn(
                "grants on " ~ relation ~ " skipped for missing role(s) " ~ (missing | join(', '))
                ~ " (create them with `funnel db roles --apply`)") }}
        {%- endif -%}
        {%- do default__apply_grants(relation, granted, should_revoke) -%}
        {%- if grantees_seen -%}
            {#- Concurrent GRANTs on one schema fail ("tuple concurrently updated"): serialise them with a
                transaction lock (held until the model's commit) and grant only what is missing. The lock only
                when something is: held for nothing, it would queue every model behind another's transaction. -#}
            {%- set has_usage = [] -%}
            {%- for grantee in grantees_seen -%}
                {%- do has_usage.append('has_schema_privilege(' ~ dbt.string_literal(grantee) ~ ', '
                    ~ dbt.string_literal(relation.schema) ~ ", 'USAGE')") -%}
            {%- endfor -%}
            {%- call statement('grant_schema_usage') -%}
                do $grant$ begin
                    if not ({{ has_usage | join(' and ') }}) then
                        perform pg_advisory_xact_lock(hashtext('funnel.grant_schema_usage'));
                        {%- for grantee in grantees_seen %}
                        if not {{ has_usage[loop.index0] }} then
                            grant usage on schema {{ adapter.quote(relation.schema) }} to {{ adapter.quote(grantee) }};
                        end if;
                        {%- endfor %}
                    end if;
                end $grant$
            {%- endcall -%}
        {%- endif -%}
    {%- endif -%}
{% endmacro %}


{#- Lower-cased names of the roles the server has. -#}
{% macro serving_existing_roles() %}
    {%- if not execute -%}{{ return([]) }}{%- endif -%}
    {%- set rows = run_query("select lower(rolname) from pg_roles") -%}
    {{ return(rows.columns[0].values() | list) }}
{% endmacro %}


{#-
  `dbt run-operation apply_configured_grants`: apply every node's grants config to its relation if it exists,
  without rebuilding anything (`funnel db roles --apply` runs it after creating roles on a built warehouse).
-#}
{% macro apply_configured_grants() %}
    {%- set applied = [] -%}
    {%- for node in graph.nodes.values() -%}
        {%- if node.resource_type in ('model', 'seed', 'snapshot')
              and node.config.materialized != 'ephemeral' and node.config.grants -%}
            {%- set relation = adapter.get_relation(node.database, node.schema, node.alias) -%}
            {%- if relation is not none -%}
                {%- do apply_grants(relation, node.config.grants, should_revoke=True) -%}
                {%- do applied.append(node.name) -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {%- do adapter.commit() -%}
    {{ log("grants applied to " ~ (applied | length) ~ " relations", info=True) }}
{% endmacro %}
