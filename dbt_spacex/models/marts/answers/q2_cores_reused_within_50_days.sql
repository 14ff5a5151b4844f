{#
    Q2: every reuse of a core less than 50 days (elapsed seconds / 86400 < 50) after
    the same core's previous flight. Calendar days are reported alongside.
#}

with

core_reuse as (

    select * from {{ ref('fct_core_reuse') }}

),

final as (

    select
        core_id,
        core_serial,
        launch_id,
        launch_name,
        launch_date_utc,
        previous_launch_id,
        previous_launch_name,
        previous_launch_date_utc,
        days_since_previous_launch,
        calendar_days_since_previous

    from core_reuse
    where is_within_reuse_window

)

select * from final
