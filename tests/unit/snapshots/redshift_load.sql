BEGIN;

select 1 from information_schema.schemata where schema_name = %s;
-- params: ('spacex_raw',)

create schema if not exists "spacex_raw";

create table if not exists "spacex_raw"."load_ledger" ("resource" varchar(256), "source" varchar(65535), "ingest_date" date, "run_id" varchar(256), "raw_uri" varchar(65535), "raw_sha256" varchar(256), "records_received" integer, "records_loaded" integer, "records_quarantined" integer, "records_deduplicated" integer, "loaded_at" timestamp, "status" varchar(256), "error" varchar(65535), "extracted_at" timestamp, "bytes" bigint, "drift_events" integer, "quarantined_by_rule" varchar(65535), "newest_source_at" timestamp);

lock "spacex_raw"."load_ledger";

select 1 from information_schema.schemata where schema_name = %s;
-- params: ('spacex_raw',)

create schema if not exists "spacex_raw";

create table if not exists "spacex_raw"."launches" ("launch_id" varchar(256), "flight_number" integer, "name" varchar(65535), "date_utc" timestamp, "date_unix" bigint, "date_local" varchar(256), "date_precision" varchar(256), "upcoming" boolean, "success" boolean, "rocket_id" varchar(256), "launchpad_id" varchar(256), "details" varchar(65535), "static_fire_date_utc" timestamp, "window_seconds" integer, "launch_library_id" varchar(256), "auto_update" boolean, "tbd" boolean, "net" boolean, "_source" varchar(65535), "_ingest_date" date, "_run_id" varchar(256), "_raw_uri" varchar(65535), "_loaded_at" timestamp, "_extracted_at" timestamp);

create table if not exists "spacex_raw"."launch_cores" ("launch_id" varchar(256), "core_index" integer, "core_id" varchar(256), "flight" integer, "reused" boolean, "gridfins" boolean, "legs" boolean, "landing_attempt" boolean, "landing_success" boolean, "landing_type" varchar(256), "landpad_id" varchar(256), "_source" varchar(65535), "_ingest_date" date, "_run_id" varchar(256), "_raw_uri" varchar(65535), "_loaded_at" timestamp, "_extracted_at" timestamp);

create table if not exists "spacex_raw"."launch_payloads" ("launch_id" varchar(256), "payload_index" integer, "payload_id" varchar(256), "_source" varchar(65535), "_ingest_date" date, "_run_id" varchar(256), "_raw_uri" varchar(65535), "_loaded_at" timestamp, "_extracted_at" timestamp);

create table if not exists "spacex_raw"."launch_failures" ("launch_id" varchar(256), "failure_index" integer, "time_seconds" integer, "altitude_km" integer, "reason" varchar(65535), "_source" varchar(65535), "_ingest_date" date, "_run_id" varchar(256), "_raw_uri" varchar(65535), "_loaded_at" timestamp, "_extracted_at" timestamp);

create table if not exists "spacex_raw"."cores" ("core_id" varchar(256), "serial" varchar(256), "block" integer, "reuse_count" integer, "status" varchar(256), "last_update" varchar(65535), "_source" varchar(65535), "_ingest_date" date, "_run_id" varchar(256), "_raw_uri" varchar(65535), "_loaded_at" timestamp, "_extracted_at" timestamp);

create table if not exists "spacex_raw"."quarantine" ("resource" varchar(256), "record_index" integer, "record_id" varchar(65535), "field" varchar(65535), "rule" varchar(256), "message" varchar(65535), "record_json" varchar(65535), "_source" varchar(65535), "_ingest_date" date, "_run_id" varchar(256), "_raw_uri" varchar(65535), "_loaded_at" timestamp, "_extracted_at" timestamp);

create table if not exists "spacex_raw"."load_ledger" ("resource" varchar(256), "source" varchar(65535), "ingest_date" date, "run_id" varchar(256), "raw_uri" varchar(65535), "raw_sha256" varchar(256), "records_received" integer, "records_loaded" integer, "records_quarantined" integer, "records_deduplicated" integer, "loaded_at" timestamp, "status" varchar(256), "error" varchar(65535), "extracted_at" timestamp, "bytes" bigint, "drift_events" integer, "quarantined_by_rule" varchar(65535), "newest_source_at" timestamp);

create table if not exists "spacex_raw"."run_phases" ("run_id" varchar(256), "ingest_date" date, "phase" varchar(256), "milliseconds" bigint, "recorded_at" timestamp);

select table_name, column_name from information_schema.columns where table_schema = %s;
-- params: ('spacex_raw',)

create temporary table "stg_launches_00000zabc123" ("launch_id" varchar(256), "flight_number" integer, "name" varchar(65535), "date_utc" timestamp, "date_unix" bigint, "date_local" varchar(256), "date_precision" varchar(256), "upcoming" boolean, "success" boolean, "rocket_id" varchar(256), "launchpad_id" varchar(256), "details" varchar(65535), "static_fire_date_utc" timestamp, "window_seconds" integer, "launch_library_id" varchar(256), "auto_update" boolean, "tbd" boolean, "net" boolean, "_source" varchar(65535), "_ingest_date" date, "_run_id" varchar(256), "_raw_uri" varchar(65535), "_loaded_at" timestamp, "_extracted_at" timestamp);

copy "stg_launches_00000zabc123" from 's3://spacex-lake/elt/staged/spacex/launches/ingest_date=2024-06-01/20240601T000000Z-abc123/load=20240601T120000000000Z/launches/copy.manifest' iam_role 'arn:aws:iam::123456789012:role/spacex-redshift-copy' manifest format as parquet;

create temporary table "stg_launch_cores_00000zabc123" ("launch_id" varchar(256), "core_index" integer, "core_id" varchar(256), "flight" integer, "reused" boolean, "gridfins" boolean, "legs" boolean, "landing_attempt" boolean, "landing_success" boolean, "landing_type" varchar(256), "landpad_id" varchar(256), "_source" varchar(65535), "_ingest_date" date, "_run_id" varchar(256), "_raw_uri" varchar(65535), "_loaded_at" timestamp, "_extracted_at" timestamp);

copy "stg_launch_cores_00000zabc123" from 's3://spacex-lake/elt/staged/spacex/launches/ingest_date=2024-06-01/20240601T000000Z-abc123/load=20240601T120000000000Z/launch_cores/copy.manifest' iam_role 'arn:aws:iam::123456789012:role/spacex-redshift-copy' manifest format as parquet;

create temporary table "stg_launch_payloads_00000zabc123" ("launch_id" varchar(256), "payload_index" integer, "payload_id" varchar(256), "_source" varchar(65535), "_ingest_date" date, "_run_id" varchar(256), "_raw_uri" varchar(65535), "_loaded_at" timestamp, "_extracted_at" timestamp);

copy "stg_launch_payloads_00000zabc123" from 's3://spacex-lake/elt/staged/spacex/launches/ingest_date=2024-06-01/20240601T000000Z-abc123/load=20240601T120000000000Z/launch_payloads/copy.manifest' iam_role 'arn:aws:iam::123456789012:role/spacex-redshift-copy' manifest format as parquet;

create temporary table "stg_launch_failures_00000zabc123" ("launch_id" varchar(256), "failure_index" integer, "time_seconds" integer, "altitude_km" integer, "reason" varchar(65535), "_source" varchar(65535), "_ingest_date" date, "_run_id" varchar(256), "_raw_uri" varchar(65535), "_loaded_at" timestamp, "_extracted_at" timestamp);

copy "stg_launch_failures_00000zabc123" from 's3://spacex-lake/elt/staged/spacex/launches/ingest_date=2024-06-01/20240601T000000Z-abc123/load=20240601T120000000000Z/launch_failures/copy.manifest' iam_role 'arn:aws:iam::123456789012:role/spacex-redshift-copy' manifest format as parquet;

create temporary table "stg_quarantine_00000zabc123" ("resource" varchar(256), "record_index" integer, "record_id" varchar(65535), "field" varchar(65535), "rule" varchar(256), "message" varchar(65535), "record_json" varchar(65535), "_source" varchar(65535), "_ingest_date" date, "_run_id" varchar(256), "_raw_uri" varchar(65535), "_loaded_at" timestamp, "_extracted_at" timestamp);

copy "stg_quarantine_00000zabc123" from 's3://spacex-lake/elt/staged/spacex/launches/ingest_date=2024-06-01/20240601T000000Z-abc123/load=20240601T120000000000Z/quarantine/copy.manifest' iam_role 'arn:aws:iam::123456789012:role/spacex-redshift-copy' manifest format as parquet;

select 1 from "spacex_raw"."launches" limit 1;

select 1 from "spacex_raw"."launch_cores" limit 1;

select 1 from "spacex_raw"."launch_payloads" limit 1;

select 1 from "spacex_raw"."launch_failures" limit 1;

create temporary table "accepted_launches_00000zabc123" as select s."launch_id" from "stg_launches_00000zabc123" s where not exists (select 1 from "spacex_raw"."launches" t where t."launch_id" = s."launch_id" and (t."_ingest_date" > s."_ingest_date" or (t."_ingest_date" = s."_ingest_date" and t."_extracted_at" > s."_extracted_at")));

select count(*) from "accepted_launches_00000zabc123";

delete from "spacex_raw"."launches" where "launch_id" in (select "launch_id" from "accepted_launches_00000zabc123");

insert into "spacex_raw"."launches" ("launch_id", "flight_number", "name", "date_utc", "date_unix", "date_local", "date_precision", "upcoming", "success", "rocket_id", "launchpad_id", "details", "static_fire_date_utc", "window_seconds", "launch_library_id", "auto_update", "tbd", "net", "_source", "_ingest_date", "_run_id", "_raw_uri", "_loaded_at", "_extracted_at") select "launch_id", "flight_number", "name", "date_utc", "date_unix", "date_local", "date_precision", "upcoming", "success", "rocket_id", "launchpad_id", "details", "static_fire_date_utc", "window_seconds", "launch_library_id", "auto_update", "tbd", "net", "_source", "_ingest_date", "_run_id", "_raw_uri", "_loaded_at", "_extracted_at" from "stg_launches_00000zabc123";

delete from "spacex_raw"."launch_cores" where "launch_id" in (select "launch_id" from "accepted_launches_00000zabc123");

insert into "spacex_raw"."launch_cores" ("launch_id", "core_index", "core_id", "flight", "reused", "gridfins", "legs", "landing_attempt", "landing_success", "landing_type", "landpad_id", "_source", "_ingest_date", "_run_id", "_raw_uri", "_loaded_at", "_extracted_at") select "launch_id", "core_index", "core_id", "flight", "reused", "gridfins", "legs", "landing_attempt", "landing_success", "landing_type", "landpad_id", "_source", "_ingest_date", "_run_id", "_raw_uri", "_loaded_at", "_extracted_at" from "stg_launch_cores_00000zabc123";

delete from "spacex_raw"."launch_payloads" where "launch_id" in (select "launch_id" from "accepted_launches_00000zabc123");

insert into "spacex_raw"."launch_payloads" ("launch_id", "payload_index", "payload_id", "_source", "_ingest_date", "_run_id", "_raw_uri", "_loaded_at", "_extracted_at") select "launch_id", "payload_index", "payload_id", "_source", "_ingest_date", "_run_id", "_raw_uri", "_loaded_at", "_extracted_at" from "stg_launch_payloads_00000zabc123";

delete from "spacex_raw"."launch_failures" where "launch_id" in (select "launch_id" from "accepted_launches_00000zabc123");

insert into "spacex_raw"."launch_failures" ("launch_id", "failure_index", "time_seconds", "altitude_km", "reason", "_source", "_ingest_date", "_run_id", "_raw_uri", "_loaded_at", "_extracted_at") select "launch_id", "failure_index", "time_seconds", "altitude_km", "reason", "_source", "_ingest_date", "_run_id", "_raw_uri", "_loaded_at", "_extracted_at" from "stg_launch_failures_00000zabc123";

delete from "spacex_raw"."quarantine" where "resource" = %s and "_source" = %s and "_ingest_date" = %s;
-- params: ('launches', 'snapshot', datetime.date(2024, 6, 1))

insert into "spacex_raw"."quarantine" ("resource", "record_index", "record_id", "field", "rule", "message", "record_json", "_source", "_ingest_date", "_run_id", "_raw_uri", "_loaded_at", "_extracted_at") select "resource", "record_index", "record_id", "field", "rule", "message", "record_json", "_source", "_ingest_date", "_run_id", "_raw_uri", "_loaded_at", "_extracted_at" from "stg_quarantine_00000zabc123";

insert into "spacex_raw"."load_ledger" ("resource", "source", "ingest_date", "run_id", "raw_uri", "raw_sha256", "records_received", "records_loaded", "records_quarantined", "records_deduplicated", "loaded_at", "status", "error", "extracted_at", "bytes", "drift_events", "quarantined_by_rule", "newest_source_at") values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s);
-- params: ('launches', 'snapshot', datetime.date(2024, 6, 1), '20240601T000000Z-abc123', 's3://spacex-lake/elt/raw/spacex/launches/ingest_date=2024-06-01/run/launches.json', 'abababababababababababababababababababababababababababababababab', 2, 1, 1, 0, datetime.datetime(2024, 6, 1, 12, 0), 'succeeded', None, None, 505, 24, 'int_type:flight_number=1', datetime.datetime(2006, 3, 24, 22, 30))

drop table if exists "stg_launches_00000zabc123";

drop table if exists "stg_launch_cores_00000zabc123";

drop table if exists "stg_launch_payloads_00000zabc123";

drop table if exists "stg_launch_failures_00000zabc123";

drop table if exists "stg_quarantine_00000zabc123";

drop table if exists "accepted_launches_00000zabc123";

COMMIT;
