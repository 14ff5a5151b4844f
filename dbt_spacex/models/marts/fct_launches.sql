{{
    config(
        materialized='incremental',
        unique_key='launch_id',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
    )
}}

{#
    One row per launch with counts from its child arrays. The loader replaces a launch's
    rows (children included) when a newer batch arrives, so only launches loaded since
    the last run need rebuilding; `>=` re-processes the latest batch, which is harmless
    with unique_key. `dbt build --full-refresh` rebuilds everything and gives the same rows.
#}

with

launches as (

    select * from {{ ref('stg_spacex__launches') }}
    {% if is_incremental() %}
    where loaded_at >= (select max(current_rows.loaded_at) from {{ this }} as current_rows)
    {% endif %}

),

launch_cores as (

    select * from {{ ref('stg_spacex__launch_cores') }}

),

launch_payloads as (

    select * from {{ ref('stg_spacex__launch_payloads') }}

),

launch_failures as (

    select * from {{ ref('stg_spacex__launch_failures') }}

),

core_counts as (

    select
        launch_id,
        count(*) as core_slots,
        count(core_id) as known_cores,
        sum(case when is_reused then 1 else 0 end) as reused_cores,
        sum(case when is_landing_attempted then 1 else 0 end) as landing_attempts,
        sum(case when is_landing_success then 1 else 0 end) as landing_successes

    from launch_cores
    group by launch_id

),

payload_counts as (

    select
        launch_id,
        count(*) as payloads

    from launch_payloads
    group by launch_id

),

failure_counts as (

    select
        launch_id,
        count(*) as failures

    from launch_failures
    group by launch_id

),

final as (

    select
        launches.launch_id,
        launches.flight_number,
        launches.launch_name,
        launches.launch_date_utc,
        launches.launch_date_unix,
        launches.date_precision,
        launches.has_placeholder_time,
        launches.is_upcoming,
        launches.is_success,
        launches.rocket_id,
        launches.launchpad_id,
        cast(coalesce(core_counts.core_slots, 0) as integer) as core_slots,
        cast(coalesce(core_counts.known_cores, 0) as integer) as known_cores,
        cast(coalesce(core_counts.reused_cores, 0) as integer) as reused_cores,
        cast(coalesce(core_counts.landing_attempts, 0) as integer) as landing_attempts,
        cast(coalesce(core_counts.landing_successes, 0) as integer) as landing_successes,
        cast(coalesce(payload_counts.payloads, 0) as integer) as payloads,
        cast(coalesce(failure_counts.failures, 0) as integer) as failures,
        launches.loaded_at

    from launches
    left join core_counts
        on launches.launch_id = core_counts.launch_id
    left join payload_counts
        on launches.launch_id = payload_counts.launch_id
    left join failure_counts
        on launches.launch_id = failure_counts.launch_id

)

select * from final
