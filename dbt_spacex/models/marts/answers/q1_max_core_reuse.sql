{#
    Q1: the core(s) reused the most. reuse_count = flights - 1, counting flights on
    launches that have flown, with a known core id. Ties return several rows.
#}

with

cores as (

    select * from {{ ref('dim_cores') }}

),

flown_cores as (

    select * from cores
    where flights > 0

),

max_reuse as (

    select max(reuse_count) as max_reuse_count
    from flown_cores

),

final as (

    select
        flown_cores.core_id,
        flown_cores.core_serial,
        flown_cores.flights,
        flown_cores.reuse_count,
        flown_cores.first_launch_utc,
        flown_cores.last_launch_utc

    from flown_cores
    inner join max_reuse
        on flown_cores.reuse_count = max_reuse.max_reuse_count

)

select * from final
