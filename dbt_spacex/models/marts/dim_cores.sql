{#
    One row per core id seen anywhere (launch core slots or the /cores endpoint).
    flights counts flights on launches that have flown; reuse_count = flights - 1
    (0 for a core that has not flown yet). The API's own counters are kept next to
    ours with a flag and an explanation when they disagree.
#}

with

core_flights as (

    select * from {{ ref('int_core_flights') }}

),

launch_cores as (

    select * from {{ ref('stg_spacex__launch_cores') }}

),

api_cores as (

    select * from {{ ref('stg_spacex__cores') }}

),

core_ids as (

    select core_id from launch_cores
    where core_id is not null
    union
    select core_id from api_cores

),

flight_stats as (

    select
        core_id,
        count(*) as flights,
        min(launch_date_utc) as first_launch_utc,
        max(launch_date_utc) as last_launch_utc,
        max(api_flight_counter) as api_max_flight_counter,
        count(distinct api_flight_counter) as api_distinct_flight_counters

    from core_flights
    group by core_id

),

first_and_last as (

    select
        core_id,
        max(case when flight_sequence = 1 then launch_id end) as first_launch_id,
        max(case when is_last then launch_id end) as last_launch_id

    from (
        select
            core_id,
            launch_id,
            flight_sequence,
            flight_sequence = max(flight_sequence) over (partition by core_id) as is_last
        from core_flights
    ) as flights_with_last
    group by core_id

),

joined as (

    select
        core_ids.core_id,
        api_cores.core_serial,
        api_cores.core_block,
        coalesce(flight_stats.flights, 0) as flights,
        case
            when coalesce(flight_stats.flights, 0) > 0 then flight_stats.flights - 1
            else 0
        end as reuse_count,
        first_and_last.first_launch_id,
        flight_stats.first_launch_utc,
        first_and_last.last_launch_id,
        flight_stats.last_launch_utc,
        api_cores.core_id is not null as is_in_api_cores,
        api_cores.api_reuse_count,
        flight_stats.api_max_flight_counter,
        coalesce(flight_stats.api_distinct_flight_counters, 0) as api_distinct_flight_counters

    from core_ids
    left join flight_stats
        on core_ids.core_id = flight_stats.core_id
    left join first_and_last
        on core_ids.core_id = first_and_last.core_id
    left join api_cores
        on core_ids.core_id = api_cores.core_id

),

compared as (

    select
        *,
        case
            when api_reuse_count is null then 'api_value_missing'
            when api_reuse_count = reuse_count then 'agrees'
            when api_reuse_count < reuse_count then 'api_lower'
            else 'api_higher'
        end as api_reuse_count_check,
        case
            when flights = 0 then 'not_flown'
            when api_max_flight_counter is null then 'api_value_missing'
            when api_max_flight_counter <> flights then 'max_differs'
            when api_distinct_flight_counters <> flights then 'gap_or_duplicate'
            else 'agrees'
        end as api_flight_counter_check

    from joined

),

final as (

    select
        core_id,
        core_serial,
        core_block,
        cast(flights as integer) as flights,
        cast(reuse_count as integer) as reuse_count,
        first_launch_id,
        first_launch_utc,
        last_launch_id,
        last_launch_utc,
        is_in_api_cores,
        api_reuse_count,
        api_max_flight_counter,
        api_reuse_count_check,
        api_flight_counter_check,
        (
            api_reuse_count_check in ('api_lower', 'api_higher')
            or api_flight_counter_check in ('max_differs', 'gap_or_duplicate')
        ) as has_api_disagreement,
        case
            when api_reuse_count_check = 'api_lower'
                then
                    'API reuse_count '
                    || cast(api_reuse_count as varchar)
                    || ' is below the '
                    || cast(reuse_count as varchar)
                    || ' reuses counted from launches (the /cores snapshot is stale)'
            when api_reuse_count_check = 'api_higher'
                then
                    'API reuse_count '
                    || cast(api_reuse_count as varchar)
                    || ' is above the '
                    || cast(reuse_count as varchar)
                    || ' reuses counted from launches'
            when api_flight_counter_check = 'max_differs'
                then
                    'API flight counter reaches '
                    || cast(api_max_flight_counter as varchar)
                    || ' but the core has '
                    || cast(flights as varchar)
                    || ' flights in launches'
            when api_flight_counter_check = 'gap_or_duplicate'
                then
                    'API flight counter has a gap or a duplicate ('
                    || cast(api_distinct_flight_counters as varchar)
                    || ' distinct values over '
                    || cast(flights as varchar)
                    || ' flights)'
        end as api_disagreement_reason

    from compared

)

select * from final
