{#
    Each run's robust baseline: the median and the median absolute deviation (MAD) of the same
    metric over the `baseline_runs` runs before it (successful runs only, see mon_run_metrics).
    Two steps because the MAD is a median of deviations from the first median; one ordered-set
    aggregate per select (Redshift allows several only when they share an order).
#}

{%- set settings = spacex.monitor_settings() %}

with

metrics as (

    select * from {{ ref('mon_run_metrics') }}

),

window_rows as (

    select
        current_run.run_id,
        current_run.check_name,
        current_run.subject,
        current_run.metric,
        earlier.run_id as baseline_run_id,
        earlier.metric_value as baseline_value
    from metrics as current_run
    inner join metrics as earlier
        on
            current_run.check_name = earlier.check_name
            and current_run.subject = earlier.subject
            and current_run.metric = earlier.metric
            and current_run.series_position > earlier.series_position
            and current_run.series_position - {{ settings.baseline_runs }}
            <= earlier.series_position

),

medians as (

    select
        run_id,
        check_name,
        subject,
        metric,
        count(*) as baseline_runs,
        max(baseline_value) as baseline_max,
        percentile_cont(0.5) within group (order by baseline_value) as baseline_median
    from window_rows
    group by run_id, check_name, subject, metric

),

deviations as (

    select
        window_rows.run_id,
        window_rows.check_name,
        window_rows.subject,
        window_rows.metric,
        abs(window_rows.baseline_value - medians.baseline_median) as deviation
    from window_rows
    inner join medians
        on
            window_rows.run_id = medians.run_id
            and window_rows.check_name = medians.check_name
            and window_rows.subject = medians.subject
            and window_rows.metric = medians.metric

),

mads as (

    select
        run_id,
        check_name,
        subject,
        metric,
        percentile_cont(0.5) within group (order by deviation) as baseline_mad
    from deviations
    group by run_id, check_name, subject, metric

),

final as (

    select
        medians.run_id,
        medians.check_name,
        medians.subject,
        medians.metric,
        medians.baseline_runs,
        medians.baseline_max,
        medians.baseline_median,
        mads.baseline_mad
    from medians
    inner join mads
        on
            medians.run_id = mads.run_id
            and medians.check_name = mads.check_name
            and medians.subject = mads.subject
            and medians.metric = mads.metric

)

select * from final
