-- dim_cores.reuse_count = flights - 1 (0 if never flown), flights matches
-- int_core_flights, and each reuse appears exactly once in fct_core_reuse.
with

cores as (

    select * from {{ ref('dim_cores') }}

),

core_flights as (

    select
        core_id,
        count(*) as flights

    from {{ ref('int_core_flights') }}
    group by core_id

),

core_reuses as (

    select
        core_id,
        count(*) as reuses

    from {{ ref('fct_core_reuse') }}
    group by core_id

),

final as (

    select
        cores.core_id,
        cores.flights,
        cores.reuse_count,
        core_flights.flights as counted_flights,
        core_reuses.reuses as counted_reuses

    from cores
    left join core_flights
        on cores.core_id = core_flights.core_id
    left join core_reuses
        on cores.core_id = core_reuses.core_id
    where
        cores.reuse_count <> case when cores.flights > 0 then cores.flights - 1 else 0 end
        or cores.flights <> coalesce(core_flights.flights, 0)
        or cores.reuse_count <> coalesce(core_reuses.reuses, 0)

)

select * from final
