{#
    Generic test: the combination of `combination_of_columns` is unique.
    A local stand-in for dbt_utils.unique_combination_of_columns (no dbt hub offline).
#}
{% test unique_combination(model, combination_of_columns) %}

with

grouped as (

    select
        {{ combination_of_columns | join(',\n        ') }},
        count(*) as n_rows
    from {{ model }}
    group by {{ combination_of_columns | join(', ') }}

),

final as (

    select * from grouped
    where n_rows > 1

)

select * from final

{% endtest %}
