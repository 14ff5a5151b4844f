-- Q1 returns every core at the maximum reuse count and nothing else.
with

flown_cores as (

    select * from {{ ref('dim_cores') }}
    where flights > 0

),

max_reuse as (

    select max(reuse_count) as max_reuse_count
    from flown_cores

),

answer as (

    select * from {{ ref('q1_max_core_reuse') }}

),

expected as (

    select flown_cores.core_id
    from flown_cores
    inner join max_reuse
        on flown_cores.reuse_count = max_reuse.max_reuse_count

),

missing as (

    select expected.core_id from expected
    left join answer on expected.core_id = answer.core_id
    where answer.core_id is null

),

extra as (

    select answer.core_id from answer
    left join expected on answer.core_id = expected.core_id
    where expected.core_id is null

),

final as (

    select
        core_id,
        'missing' as problem
    from missing
    union all
    select
        core_id,
        'extra' as problem
    from extra

)

select * from final
