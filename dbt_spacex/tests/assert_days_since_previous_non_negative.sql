-- Gaps between consecutive flights of a core are never negative, and the calendar-day
-- gap is within one day of the fractional gap.
with

core_reuse as (

    select * from {{ ref('fct_core_reuse') }}

),

final as (

    select
        core_reuse_id,
        days_since_previous_launch,
        calendar_days_since_previous

    from core_reuse
    where
        days_since_previous_launch < 0
        or calendar_days_since_previous < 0
        or abs(calendar_days_since_previous - days_since_previous_launch) >= 1

)

select * from final
