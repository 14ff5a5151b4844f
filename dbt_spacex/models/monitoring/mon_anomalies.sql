{#
    One verdict per run, check, subject and metric: pass, warn or fail.

    - volume (received, loaded): outside median ± tolerance;
    - quarantine_share: above median + tolerance;
    - phase_duration: above median + tolerance;
    - drift: more drifted paths than any run of the baseline (new drift);
    - source_freshness: the newest non-upcoming launch older than `source_stale_days` when the
      source was read (a frozen source, however fresh the loads).
    tolerance = max(mad_k x 1.4826 x MAD, the check's smallest change); 1.4826 x MAD estimates
    a standard deviation. Baseline checks judge only with `min_history` baseline runs.
    An anomaly warns, or fails when its check is in `fail_on`. `since_run_id` / `since_at`: the
    first run of the current streak of anomalies of the same series.
#}

{%- set settings = spacex.monitor_settings() %}
{%- set k = settings.mad_k ~ ' * 1.4826 * baselines.baseline_mad' %}

with

metrics as (

    select * from {{ ref('mon_run_metrics') }}

),

baselines as (

    select * from {{ ref('mon_baselines') }}

),

bounds as (

    select
        metrics.run_id,
        metrics.ingest_date,
        metrics.run_at,
        metrics.check_name,
        metrics.subject,
        metrics.metric,
        metrics.metric_value,
        metrics.series_position,
        coalesce(baselines.baseline_runs, 0) as baseline_runs,
        baselines.baseline_median,
        baselines.baseline_mad,
        case
            when metrics.check_name = 'volume'
                then baselines.baseline_median - greatest(
                    {{ k }},
                    {{ settings.volume_min_change }} * abs(baselines.baseline_median)
                )
        end as lower_bound,
        case
            when metrics.check_name = 'volume'
                then baselines.baseline_median + greatest(
                    {{ k }},
                    {{ settings.volume_min_change }} * abs(baselines.baseline_median)
                )
            when metrics.check_name = 'quarantine_share'
                then baselines.baseline_median + greatest(
                    {{ k }}, {{ settings.quarantine_min_change }}
                )
            when metrics.check_name = 'phase_duration'
                then baselines.baseline_median + greatest(
                    {{ k }},
                    {{ settings.phase_min_change }} * baselines.baseline_median,
                    {{ settings.phase_min_seconds }}
                )
            when metrics.check_name = 'drift'
                then baselines.baseline_max
            when metrics.check_name = 'source_freshness'
                then {{ settings.source_stale_days }}
        end as upper_bound,
        (
            metrics.check_name = 'source_freshness'
            or coalesce(baselines.baseline_runs, 0) >= {{ settings.min_history }}
        ) as judged
    from metrics
    left join baselines
        on
            metrics.run_id = baselines.run_id
            and metrics.check_name = baselines.check_name
            and metrics.subject = baselines.subject
            and metrics.metric = baselines.metric

),

flagged as (

    select
        *,
        coalesce(
            judged and (metric_value > upper_bound or metric_value < lower_bound), false
        ) as is_anomaly
    from bounds

),

streaks as (

    select
        *,
        sum(case when is_anomaly then 0 else 1 end) over (
            partition by check_name, subject, metric
            order by series_position
            rows between unbounded preceding and current row
        ) as streak_group
    from flagged

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
        baseline_runs,
        baseline_median,
        baseline_mad,
        lower_bound,
        upper_bound,
        judged,
        case
            when not is_anomaly then 'pass'
            {%- if settings.fail_on %}
            when check_name in (
                {%- for name in settings.fail_on %}
                '{{ name | replace("'", "''") }}'{% if not loop.last %},{% endif %}
                {%- endfor %}
            ) then 'fail'
            {%- endif %}
            else 'warn'
        end as verdict,
        case when is_anomaly then first_value(run_id) over (
            partition by check_name, subject, metric, streak_group, is_anomaly
            order by series_position
            rows between unbounded preceding and unbounded following
        ) end as since_run_id,
        case when is_anomaly then min(run_at) over (
            partition by check_name, subject, metric, streak_group, is_anomaly
        ) end as since_at,
        case when is_anomaly then count(*) over (
            partition by check_name, subject, metric, streak_group, is_anomaly
            order by series_position
            rows between unbounded preceding and current row
        ) else 0 end as anomalous_runs
    from streaks

)

select * from final
