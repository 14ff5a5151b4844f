-- spacex-elt warehouse roles, PostgreSQL (version 1). Run once, as an admin, per database:
--
--   psql -v ON_ERROR_STOP=1 -v loader=loader -v transformer=transformer \
--        -v raw_schema=spacex_raw -v dbt_schema=spacex -v database=spacex \
--        -f etl/spacex_etl/warehouse/roles.sql "host=... dbname=spacex user=<admin>"
--
-- then give each role its password (`\password loader`) or a trust/cert rule in pg_hba.conf.
-- Idempotent: rerunning it changes nothing. Neither role is a superuser, neither can create
-- roles or databases:
--   loader       owns the raw schema: creates and writes the raw tables, temporary tables;
--                reads the dbt schema (the job prints the answers), writes nothing there.
--   transformer  owns the dbt schema (dbt builds its models there); reads the raw schema,
--                writes nothing there.
-- The job runs with SPACEX_PG_USER=<loader> and SPACEX_PG_DBT_USER=<transformer> (dbt).

select format('create role %I login nosuperuser nocreatedb nocreaterole noinherit', :'loader')
where not exists (select 1 from pg_roles where rolname = :'loader')
\gexec
select format('create role %I login nosuperuser nocreatedb nocreaterole noinherit', :'transformer')
where not exists (select 1 from pg_roles where rolname = :'transformer')
\gexec

revoke all on database :"database" from public;
-- No CREATE on the database for either role: the schemas below are created here, and the
-- loader looks its schema up before it would create one (SqlWarehouse.ensure_schema). The
-- revoke takes back the grant an earlier version of this file gave the loader.
revoke create on database :"database" from :"loader", :"transformer";
grant connect, temporary on database :"database" to :"loader", :"transformer";

create schema if not exists :"raw_schema" authorization :"loader";
create schema if not exists :"dbt_schema" authorization :"transformer";
alter schema :"raw_schema" owner to :"loader";
alter schema :"dbt_schema" owner to :"transformer";
revoke all on schema :"raw_schema" from public;
revoke all on schema :"dbt_schema" from public;

-- dbt reads raw: the tables there now, and every table the loader creates later.
grant usage on schema :"raw_schema" to :"transformer";
grant select on all tables in schema :"raw_schema" to :"transformer";
alter default privileges for role :"loader" in schema :"raw_schema"
grant select on tables to :"transformer";

-- The job reads dbt's answers: the models there now, and every one dbt creates later.
grant usage on schema :"dbt_schema" to :"loader";
grant select on all tables in schema :"dbt_schema" to :"loader";
alter default privileges for role :"transformer" in schema :"dbt_schema"
grant select on tables to :"loader";
