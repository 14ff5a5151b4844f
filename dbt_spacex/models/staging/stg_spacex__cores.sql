with

source as (

    select * from {{ source('spacex', 'cores') }}

),

renamed as (

    select
        cast(core_id as varchar) as core_id,
        cast(serial as varchar) as core_serial,
        cast(block as integer) as core_block,
        cast(reuse_count as integer) as api_reuse_count,
        cast(status as varchar) as core_status,
        cast(last_update as varchar) as core_last_update,
        cast(_loaded_at as timestamp) as loaded_at

    from source

)

select * from renamed
