-- Q1: which core(s) have been reused the most?
-- Amazon Redshift SQL over the raw tables the loader writes (schema spacex_raw).
-- Definitions:
--   * a flight = one (core, launch) pair from launch_cores, on a launch that has flown
--     (launches.upcoming = false), with a known core id (core slots with a null core are dropped);
--   * reuse_count of a core = its number of flights - 1;
--   * answer = every core whose reuse_count equals the maximum (ties return several rows).
-- The API's own counters are not used: cores.reuse_count is a stale 2020 snapshot and
-- launch_cores.flight has a gap and a duplicate for core 5f57c54a0622a633027900a1.
with

core_flights as (

    select
        launch_cores.core_id,
        launches.launch_id,
        launches.date_utc

    from spacex_raw.launch_cores as launch_cores
    inner join spacex_raw.launches as launches
        on launch_cores.launch_id = launches.launch_id
    where
        launches.upcoming = false
        and launch_cores.core_id is not null

),

per_core as (

    select
        core_id,
        count(*) as flights,
        count(*) - 1 as reuse_count,
        min(date_utc) as first_launch_utc,
        max(date_utc) as last_launch_utc

    from core_flights
    group by core_id

),

ranked as (

    select
        core_id,
        flights,
        reuse_count,
        first_launch_utc,
        last_launch_utc,
        rank() over (order by reuse_count desc) as reuse_rank

    from per_core

)

select
    ranked.core_id,
    cores.serial as core_serial,
    ranked.flights,
    ranked.reuse_count,
    ranked.first_launch_utc,
    ranked.last_launch_utc

from ranked
left join spacex_raw.cores as cores
    on ranked.core_id = cores.core_id
where ranked.reuse_rank = 1
order by ranked.core_id;
