with

source as (

    select * from {{ source('spacex', 'launch_payloads') }}

),

renamed as (

    select
        {{ text_key(['launch_id', 'payload_index']) }} as launch_payload_id,
        cast(launch_id as varchar) as launch_id,
        cast(payload_index as integer) as payload_index,
        cast(payload_id as varchar) as payload_id,
        cast(_loaded_at as timestamp) as loaded_at

    from source

)

select * from renamed
