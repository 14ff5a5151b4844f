{#
    One row per (core, launch) for cores with a known id on launches that have flown.
    Flights of a core are ordered by launch_date_utc, then flight_number, then launch_id
    (the API's own per-core `flight` counter has gaps and duplicates, so it is not used).
#}

with

launch_cores as (

    select * from {{ ref('stg_spacex__launch_cores') }}

),

launches as (

    select * from {{ ref('stg_spacex__launches') }}

),

flown_core_slots as (

    select
        launch_cores.core_id,
        launch_cores.launch_id,
        launch_cores.core_index,
        launch_cores.api_flight_counter,
        launch_cores.is_reused,
        launch_cores.is_landing_attempted,
        launch_cores.is_landing_success,
        launch_cores.landing_type,
        launches.launch_name,
        launches.flight_number,
        launches.launch_date_utc,
        launches.date_precision

    from launch_cores
    inner join launches
        on launch_cores.launch_id = launches.launch_id
    where
        not launches.is_upcoming
        and launch_cores.core_id is not null

),

sequenced as (

    select
        *,
        row_number() over (
            partition by core_id
            order by launch_date_utc, flight_number, launch_id
        ) as flight_sequence,
        lag(launch_id) over (
            partition by core_id
            order by launch_date_utc, flight_number, launch_id
        ) as previous_launch_id,
        lag(launch_name) over (
            partition by core_id
            order by launch_date_utc, flight_number, launch_id
        ) as previous_launch_name,
        lag(launch_date_utc) over (
            partition by core_id
            order by launch_date_utc, flight_number, launch_id
        ) as previous_launch_date_utc

    from flown_core_slots

),

final as (

    select
        {{ text_key(['core_id', 'launch_id']) }} as core_flight_id,
        core_id,
        launch_id,
        core_index,
        launch_name,
        flight_number,
        launch_date_utc,
        date_precision,
        api_flight_counter,
        is_reused,
        is_landing_attempted,
        is_landing_success,
        landing_type,
        cast(flight_sequence as integer) as flight_sequence,
        previous_launch_id,
        previous_launch_name,
        previous_launch_date_utc,
        {{ fractional_days_between('previous_launch_date_utc', 'launch_date_utc') }}
            as days_since_previous_launch,
        {{ calendar_days_between('previous_launch_date_utc', 'launch_date_utc') }}
            as calendar_days_since_previous

    from sequenced

)

select * from final
