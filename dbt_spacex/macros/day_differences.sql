{#
    Day differences between two UTC timestamps, one implementation per warehouse.

    fractional_days_between(start, end): elapsed seconds / 86400 as numeric(18, 6),
        e.g. 2020-01-01 22:00 -> 2020-01-02 02:00 is 0.166667.
    calendar_days_between(start, end): number of midnight (date) boundaries crossed,
        e.g. 2020-01-01 22:00 -> 2020-01-02 02:00 is 1.

    Never transpile one into the other: Redshift's datediff(day, ...) counts
    boundaries, which is the calendar definition, not the elapsed one.
#}

{% macro fractional_days_between(start_ts, end_ts) -%}
    {{ return(adapter.dispatch('fractional_days_between', 'spacex')(start_ts, end_ts)) }}
{%- endmacro %}

{% macro default__fractional_days_between(start_ts, end_ts) -%}
    cast(
        (extract(epoch from {{ end_ts }}) - extract(epoch from {{ start_ts }})) / 86400.0
        as numeric(18, 6)
    )
{%- endmacro %}

{% macro duckdb__fractional_days_between(start_ts, end_ts) -%}
    cast(
        (epoch_ms({{ end_ts }}) - epoch_ms({{ start_ts }})) / 86400000.0
        as numeric(18, 6)
    )
{%- endmacro %}

{% macro postgres__fractional_days_between(start_ts, end_ts) -%}
    cast(extract(epoch from ({{ end_ts }} - {{ start_ts }})) / 86400.0 as numeric(18, 6))
{%- endmacro %}

{% macro redshift__fractional_days_between(start_ts, end_ts) -%}
    cast(datediff(millisecond, {{ start_ts }}, {{ end_ts }}) / 86400000.0 as numeric(18, 6))
{%- endmacro %}


{% macro calendar_days_between(start_ts, end_ts) -%}
    {{ return(adapter.dispatch('calendar_days_between', 'spacex')(start_ts, end_ts)) }}
{%- endmacro %}

{% macro default__calendar_days_between(start_ts, end_ts) -%}
    cast(cast({{ end_ts }} as date) - cast({{ start_ts }} as date) as integer)
{%- endmacro %}

{% macro duckdb__calendar_days_between(start_ts, end_ts) -%}
    cast(date_diff('day', cast({{ start_ts }} as date), cast({{ end_ts }} as date)) as integer)
{%- endmacro %}

{% macro postgres__calendar_days_between(start_ts, end_ts) -%}
    (cast({{ end_ts }} as date) - cast({{ start_ts }} as date))
{%- endmacro %}

{% macro redshift__calendar_days_between(start_ts, end_ts) -%}
    cast(datediff(day, {{ start_ts }}, {{ end_ts }}) as integer)
{%- endmacro %}
