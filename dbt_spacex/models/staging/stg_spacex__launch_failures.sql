with

source as (

    select * from {{ source('spacex', 'launch_failures') }}

),

renamed as (

    select
        {{ text_key(['launch_id', 'failure_index']) }} as launch_failure_id,
        cast(launch_id as varchar) as launch_id,
        cast(failure_index as integer) as failure_index,
        cast(time_seconds as integer) as failure_time_seconds,
        cast(altitude_km as integer) as failure_altitude_km,
        cast(reason as varchar) as failure_reason,
        cast(_loaded_at as timestamp) as loaded_at

    from source

)

select * from renamed
