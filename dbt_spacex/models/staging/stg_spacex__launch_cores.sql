with

source as (

    select * from {{ source('spacex', 'launch_cores') }}

),

renamed as (

    select
        -- ids
        {{ text_key(['launch_id', 'core_index']) }} as launch_core_id,
        cast(launch_id as varchar) as launch_id,
        cast(core_index as integer) as core_index,
        cast(core_id as varchar) as core_id,
        cast(landpad_id as varchar) as landpad_id,

        -- the API's own per-core flight counter: not dense, do not use for ordering
        cast(flight as integer) as api_flight_counter,

        -- flags and landing
        cast(reused as boolean) as is_reused,
        cast(gridfins as boolean) as has_gridfins,
        cast(legs as boolean) as has_legs,
        cast(landing_attempt as boolean) as is_landing_attempted,
        cast(landing_success as boolean) as is_landing_success,
        cast(landing_type as varchar) as landing_type,

        -- batch metadata
        cast(_loaded_at as timestamp) as loaded_at

    from source

)

select * from renamed
