{#
    One row per reuse: a flight of a core that had flown before (flight_sequence > 1),
    with the gap to the core's previous flight. is_within_reuse_window uses the
    fractional-day gap (strictly below var reuse_window_days, default 50).
#}

with

core_flights as (

    select * from {{ ref('int_core_flights') }}

),

cores as (

    select * from {{ ref('dim_cores') }}

),

reuses as (

    select
        core_flights.core_flight_id as core_reuse_id,
        core_flights.core_id,
        cores.core_serial,
        core_flights.launch_id,
        core_flights.launch_name,
        core_flights.launch_date_utc,
        core_flights.previous_launch_id,
        core_flights.previous_launch_name,
        core_flights.previous_launch_date_utc,
        core_flights.flight_sequence,
        core_flights.flight_sequence - 1 as reuse_number,
        core_flights.days_since_previous_launch,
        core_flights.calendar_days_since_previous

    from core_flights
    left join cores
        on core_flights.core_id = cores.core_id
    where core_flights.flight_sequence > 1

),

final as (

    select
        core_reuse_id,
        core_id,
        core_serial,
        launch_id,
        launch_name,
        launch_date_utc,
        previous_launch_id,
        previous_launch_name,
        previous_launch_date_utc,
        cast(flight_sequence as integer) as flight_sequence,
        cast(reuse_number as integer) as reuse_number,
        days_since_previous_launch,
        calendar_days_since_previous,
        days_since_previous_launch < {{ var('reuse_window_days') }} as is_within_reuse_window,
        calendar_days_since_previous < {{ var('reuse_window_days') }}
            as is_within_reuse_window_calendar

    from reuses

)

select * from final
