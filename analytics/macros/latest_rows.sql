{#-
  The rows of a raw table that are current: one per key, the version loaded last.

  Targets upsert by key, but a row deleted at the source stays in the table: for full-table
  streams (`full_table=true`) only the rows of the latest sync are kept, that is the rows
  loaded after the last pause longer than var('sync_gap_seconds') between two loads of the
  table (`_sdc_batched_at`). Rows a target marked deleted (`_sdc_deleted_at`) are dropped.
  Incremental streams keep every key ever loaded: their history is the point.
-#}
{% macro latest_rows(table, keys, full_table=false) -%}
    with versions as (
        select
            *,
            row_number() over (
                partition by {{ keys | join(', ') }}
                order by _sdc_batched_at desc
            ) as _sdc_version
        from {{ source('pagerduty', table) }}
    ),

    latest as (
        select * from versions
        where _sdc_version = 1 and _sdc_deleted_at is null
    )
    {%- if full_table %},

    loads as (
        select
            _sdc_batched_at,
            lag(_sdc_batched_at) over (order by _sdc_batched_at) as previous_load_at
        from latest
    ),

    latest_sync as (
        select max(_sdc_batched_at) as started_at
        from loads
        where previous_load_at is null
           or {{ seconds_between('previous_load_at', '_sdc_batched_at') }} > {{ var('sync_gap_seconds') }}
    )

    select latest.*
    from latest
    cross join latest_sync
    where latest._sdc_batched_at >= latest_sync.started_at
    {%- else %}

    select * from latest
    {%- endif %}
{%- endmacro %}
