select file_name, line_number, column_name, error_code, error_message, raw_field_value from sys_load_error_detail where file_name in (%s) order by start_time desc, line_number limit 20;
-- params: ('s3://spacex-lake/elt/staged/spacex/launches/ingest_date=2024-06-01/20240601T000000Z-abc123/load=20240601T120000000000Z/launch_cores/part_0.parquet',)
