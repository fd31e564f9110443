{#-
  Reading what the targets load, on any adapter.

  target-duckdb stores objects and arrays as JSON; target-postgres stores objects as jsonb and
  arrays as jsonb[] / text[] (1-based). These macros hide the difference; each has a
  `default__` version (DuckDB's) and a `postgres__` one.
-#}

{# Text value of `key` in a JSON object column (a reference's `id`, a `type`...). #}
{% macro json_text(column, key) -%}
    {{ return(adapter.dispatch('json_text', 'pagerduty')(column, key)) }}
{%- endmacro %}

{% macro default__json_text(column, key) -%}
    json_extract_string({{ column }}, '$.{{ key }}')
{%- endmacro %}

{% macro postgres__json_text(column, key) -%}
    ({{ column }} ->> '{{ key }}')
{%- endmacro %}

{# Text value of `key` in the first element of an array-of-objects column. #}
{% macro json_first_text(column, key) -%}
    {{ return(adapter.dispatch('json_first_text', 'pagerduty')(column, key)) }}
{%- endmacro %}

{% macro default__json_first_text(column, key) -%}
    json_extract_string({{ column }}, '$[0].{{ key }}')
{%- endmacro %}

{% macro postgres__json_first_text(column, key) -%}
    ({{ column }}[1] ->> '{{ key }}')
{%- endmacro %}

{# Number of elements of an array column (0 when null). #}
{% macro json_array_size(column) -%}
    {{ return(adapter.dispatch('json_array_size', 'pagerduty')(column)) }}
{%- endmacro %}

{% macro default__json_array_size(column) -%}
    coalesce(cast(json_array_length({{ column }}) as {{ dbt.type_int() }}), 0)
{%- endmacro %}

{% macro postgres__json_array_size(column) -%}
    coalesce(cardinality({{ column }}), 0)
{%- endmacro %}

{# A UTC timestamp (without zone) as wall-clock time in `time_zone` (an IANA name). #}
{% macro local_time(timestamp_utc, time_zone) -%}
    {{ return(adapter.dispatch('local_time', 'pagerduty')(timestamp_utc, time_zone)) }}
{%- endmacro %}

{% macro default__local_time(timestamp_utc, time_zone) -%}
    (({{ timestamp_utc }}) at time zone 'UTC') at time zone ({{ time_zone }})
{%- endmacro %}

{# Timestamps typed the same way on every adapter (UTC, without zone). #}
{% macro as_timestamp(column) -%}
    cast({{ column }} as {{ dbt.type_timestamp() }})
{%- endmacro %}

{% macro as_bigint(column) -%}
    cast({{ column }} as {{ dbt.type_bigint() }})
{%- endmacro %}

{# Monday of the (ISO) week of a timestamp, as a date. #}
{% macro week_of(timestamp) -%}
    cast({{ dbt.date_trunc('week', timestamp) }} as date)
{%- endmacro %}

{# Whole seconds from `start` to `end` (null if either is null). #}
{% macro seconds_between(start, end) -%}
    {{ dbt.datediff(start, end, 'second') }}
{%- endmacro %}

{#- Averages and percentiles in double precision: dbt.type_float() is a 4-byte float on DuckDB,
    which rounds an MTTR of 35,329,042 s to 35,329,040. `double precision` is 8 bytes on both. -#}
{% macro type_double() -%}
    double precision
{%- endmacro %}

{# The mean of `column` in double precision. #}
{% macro mean(column) -%}
    cast(avg({{ column }}) as {{ type_double() }})
{%- endmacro %}

{# The `fraction` percentile of `column` (0.5: the median), interpolated between the two nearest
   values as PostgreSQL's and DuckDB's percentile_cont do; nulls are left out. #}
{% macro percentile(column, fraction) -%}
    cast(percentile_cont({{ fraction }}) within group (order by {{ column }}) as {{ type_double() }})
{%- endmacro %}
