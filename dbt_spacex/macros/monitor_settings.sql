{#
    The anomaly checks' thresholds: the SPACEX_MONITOR_* settings (etl/spacex_etl/config.py,
    MonitorSettings), which transform.dbt_env passes to dbt. The defaults here are the ones
    config.py declares (a unit test compares them), so a bare `dbt parse` still renders.
#}

{% macro monitor_settings() %}
    {{ return({
        "baseline_runs": env_var('SPACEX_MONITOR_BASELINE_RUNS', '10') | int,
        "min_history": env_var('SPACEX_MONITOR_MIN_HISTORY', '3') | int,
        "mad_k": env_var('SPACEX_MONITOR_MAD_K', '3.0') | float,
        "volume_min_change": env_var('SPACEX_MONITOR_VOLUME_MIN_CHANGE', '0.1') | float,
        "quarantine_min_change": env_var('SPACEX_MONITOR_QUARANTINE_MIN_CHANGE', '0.05') | float,
        "phase_min_change": env_var('SPACEX_MONITOR_PHASE_MIN_CHANGE', '0.5') | float,
        "phase_min_seconds": env_var('SPACEX_MONITOR_PHASE_MIN_SECONDS', '5.0') | float,
        "source_stale_days": env_var('SPACEX_MONITOR_SOURCE_STALE_DAYS', '30.0') | float,
        "fail_on": env_var('SPACEX_MONITOR_FAIL_ON', '').split(',') | map('trim') | reject('equalto', '') | list,
    }) }}
{% endmacro %}
