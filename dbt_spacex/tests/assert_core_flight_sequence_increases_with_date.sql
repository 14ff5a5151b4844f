-- A core's flights, numbered by flight_sequence, never go back in time, and the
-- sequence is dense (1, 2, 3, ...) with the previous flight pointing at sequence - 1.
with

core_flights as (

    select * from {{ ref('int_core_flights') }}

),

paired as (

    select
        later.core_id,
        later.launch_id,
        later.flight_sequence,
        later.launch_date_utc,
        later.previous_launch_id,
        earlier.launch_id as expected_previous_launch_id,
        earlier.launch_date_utc as earlier_launch_date_utc

    from core_flights as later
    left join core_flights as earlier
        on
            later.core_id = earlier.core_id
            and later.flight_sequence = earlier.flight_sequence + 1

),

final as (

    select * from paired
    where
        (flight_sequence > 1 and expected_previous_launch_id is null)
        or (flight_sequence = 1 and previous_launch_id is not null)
        or previous_launch_id <> expected_previous_launch_id
        or earlier_launch_date_utc > launch_date_utc

)

select * from final
