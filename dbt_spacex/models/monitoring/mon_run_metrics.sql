{#
    The run history in long form: one row per run, check, subject and metric, so that every
    check computes its baseline with the same SQL. Only successful loads count as history.
#}

{%- set load_metrics = [
    ('volume', 'received', 'received'),
    ('volume', 'loaded', 'loaded'),
    (
        'quarantine_share',
        'quarantined_share',
        'case when received > 0 then quarantined / received else 0 end',
    ),
    ('drift', 'drift_events', 'drift_events'),
] %}

with

ledger as (

    select * from {{ source('spacex', 'load_ledger') }}

),

phases as (

    select * from {{ source('spacex', 'run_phases') }}

),

loads as (

    select
        run_id,
        ingest_date,
        resource,
        loaded_at,
        extracted_at,
        newest_source_at,
        cast(records_received as double precision) as received,
        cast(records_loaded as double precision) as loaded,
        cast(records_quarantined as double precision) as quarantined,
        cast(coalesce(drift_events, 0) as double precision) as drift_events,
        row_number() over (
            partition by run_id, resource order by loaded_at desc
        ) as attempt_from_last
    from ledger
    where status = 'succeeded'

),

last_loads as (

    select * from loads
    where attempt_from_last = 1

),

phase_runs as (

    select
        run_id,
        max(ingest_date) as ingest_date,
        phase,
        max(recorded_at) as recorded_at,
        cast(sum(milliseconds) as double precision) / 1000.0 as seconds
    from phases
    group by run_id, phase

),

metrics as (
    {% for check, metric, expression in load_metrics %}
    select
        run_id,
        ingest_date,
        loaded_at as run_at,
        '{{ check }}' as check_name,
        resource as subject,
        '{{ metric }}' as metric,
        {{ expression }} as metric_value
    from last_loads
    union all
    {% endfor %}
    select
        run_id,
        ingest_date,
        loaded_at as run_at,
        'source_freshness' as check_name,
        resource as subject,
        'source_age_days' as metric,
        cast(
            {{ spacex.fractional_days_between(
                'newest_source_at', 'coalesce(extracted_at, loaded_at)'
            ) }} as double precision
        ) as metric_value
    from last_loads
    where newest_source_at is not null
    union all
    select
        run_id,
        ingest_date,
        recorded_at as run_at,
        'phase_duration' as check_name,
        phase as subject,
        'seconds' as metric,
        seconds as metric_value
    from phase_runs

),

final as (

    select
        run_id,
        ingest_date,
        run_at,
        check_name,
        subject,
        metric,
        metric_value,
        row_number() over (
            partition by check_name, subject, metric order by run_at, run_id
        ) as series_position
    from metrics

)

select * from final
