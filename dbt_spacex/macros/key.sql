{#
    A readable text key from several columns, e.g. launch_id and core_index
    -> '5eb87cd9ffd86e000604b32a-0'. Nulls become the empty string.
#}
{% macro text_key(columns) -%}
    {%- for column in columns -%}
        coalesce(cast({{ column }} as varchar), '')
        {%- if not loop.last %} || '-' || {% endif -%}
    {%- endfor -%}
{%- endmacro %}
