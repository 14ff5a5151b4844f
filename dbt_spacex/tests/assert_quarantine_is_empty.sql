{{ config(severity='warn') }}
-- Warn (do not fail) when the loader quarantined records: the answers may be incomplete.
select
    resource,
    record_index,
    record_id,
    field,
    rule,
    message

from {{ source('spacex', 'quarantine') }}
