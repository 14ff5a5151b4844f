-- Q2: which cores were reused less than 50 days after their previous flight?
-- Amazon Redshift SQL over the raw tables the loader writes (schema spacex_raw).
-- Definitions:
--   * flights as in Q1 (launches that have flown, known core ids), ordered per core by
--     date_utc, then flight_number, then launch_id (the API's `flight` counter is not dense);
--   * a reuse = a flight with a previous flight of the same core (LAG);
--   * gap = elapsed time in fractional days = elapsed seconds / 86400; qualifies when < 50
--     (exactly 50.0 days does not);
--   * calendar_days_since_previous = UTC midnights crossed. Redshift's datediff(day, ...) counts
--     date boundaries, so it is reported as the calendar definition, never used as elapsed days.
-- One row per qualifying reuse; a core can appear several times.
with

core_flights as (

    select
        launch_cores.core_id,
        launches.launch_id,
        launches.name as launch_name,
        launches.flight_number,
        launches.date_utc

    from spacex_raw.launch_cores as launch_cores
    inner join spacex_raw.launches as launches
        on launch_cores.launch_id = launches.launch_id
    where
        launches.upcoming = false
        and launch_cores.core_id is not null

),

sequenced as (

    select
        core_id,
        launch_id,
        launch_name,
        date_utc as launch_date_utc,
        lag(launch_id) over (
            partition by core_id order by date_utc, flight_number, launch_id
        ) as previous_launch_id,
        lag(launch_name) over (
            partition by core_id order by date_utc, flight_number, launch_id
        ) as previous_launch_name,
        lag(date_utc) over (
            partition by core_id order by date_utc, flight_number, launch_id
        ) as previous_launch_date_utc

    from core_flights

),

gaps as (

    select
        core_id,
        launch_id,
        launch_name,
        launch_date_utc,
        previous_launch_id,
        previous_launch_name,
        previous_launch_date_utc,
        datediff(second, previous_launch_date_utc, launch_date_utc) as seconds_since_previous,
        datediff(day, previous_launch_date_utc, launch_date_utc) as calendar_days_since_previous

    from sequenced
    where previous_launch_id is not null

)

select
    gaps.core_id,
    cores.serial as core_serial,
    gaps.launch_id,
    gaps.launch_name,
    gaps.launch_date_utc,
    gaps.previous_launch_id,
    gaps.previous_launch_name,
    gaps.previous_launch_date_utc,
    cast(gaps.seconds_since_previous / 86400.0 as numeric(18, 6)) as days_since_previous_launch,
    gaps.calendar_days_since_previous

from gaps
left join spacex_raw.cores as cores
    on gaps.core_id = cores.core_id
where gaps.seconds_since_previous < 50 * 86400
order by gaps.launch_date_utc, gaps.core_id;
