with

source as (

    select * from {{ source('spacex', 'launches') }}

),

renamed as (

    select
        -- ids
        cast(launch_id as varchar) as launch_id,
        cast(rocket_id as varchar) as rocket_id,
        cast(launchpad_id as varchar) as launchpad_id,
        cast(launch_library_id as varchar) as launch_library_id,

        -- descriptors
        cast(flight_number as integer) as flight_number,
        cast(name as varchar) as launch_name,
        cast(details as varchar) as launch_details,
        cast(date_precision as varchar) as date_precision,

        -- timestamps (UTC)
        cast(date_utc as timestamp) as launch_date_utc,
        cast(date_unix as bigint) as launch_date_unix,
        cast(date_local as varchar) as launch_date_local,
        cast(static_fire_date_utc as timestamp) as static_fire_date_utc,
        cast(window_seconds as integer) as window_seconds,

        -- flags
        cast(upcoming as boolean) as is_upcoming,
        cast(success as boolean) as is_success,
        cast(auto_update as boolean) as is_auto_update,
        cast(tbd as boolean) as is_tbd,
        cast(net as boolean) as is_net,
        coalesce(date_precision <> 'hour', false) as has_placeholder_time,

        -- batch metadata
        cast(_ingest_date as date) as ingest_date,
        cast(_run_id as varchar) as run_id,
        cast(_loaded_at as timestamp) as loaded_at

    from source

)

select * from renamed
