-- spacex-elt warehouse users, Amazon Redshift (version 1): the same two users as roles.sql.
-- Run once, as the admin user, with psql (it speaks Redshift's protocol; the :"..." variables
-- and \gexec are psql's):
--
--   psql -v ON_ERROR_STOP=1 -v loader=loader -v transformer=transformer \
--        -v raw_schema=spacex_raw -v dbt_schema=spacex -v database=dev \
--        -f etl/spacex_etl/warehouse/roles_redshift.sql \
--        "host=<cluster endpoint> port=5439 dbname=dev user=<admin> sslmode=verify-full"
--
-- Both users log in only through IAM (GetClusterCredentials with auto_create off: the job's
-- task role may ask for exactly these two db users), so they have no password. Idempotent.
-- COPY runs as the loader with the cluster's COPY role (iam_role '...'); with ASSUMEROLE
-- privileges enabled on the cluster, also: grant assumerole on '<role arn>' to <loader> for copy.

select 'create user "' || :'loader' || '" password disable'
where not exists (select 1 from pg_user where usename = :'loader')
\gexec
select 'create user "' || :'transformer' || '" password disable'
where not exists (select 1 from pg_user where usename = :'transformer')
\gexec

-- No CREATE on the database for either user: the schemas below are created here, and the
-- loader looks its schema up before it would create one (SqlWarehouse.ensure_schema). The
-- revoke takes back the grant an earlier version of this file gave the loader.
revoke create on database :"database" from :"loader", :"transformer";
grant temp on database :"database" to :"loader", :"transformer";

create schema if not exists :"raw_schema" authorization :"loader";
create schema if not exists :"dbt_schema" authorization :"transformer";
alter schema :"raw_schema" owner to :"loader";
alter schema :"dbt_schema" owner to :"transformer";
revoke all on schema :"raw_schema" from public;
revoke all on schema :"dbt_schema" from public;

-- dbt reads raw: the tables there now, and every table the loader creates later.
grant usage on schema :"raw_schema" to :"transformer";
grant select on all tables in schema :"raw_schema" to :"transformer";
alter default privileges for user :"loader" in schema :"raw_schema"
grant select on tables to :"transformer";

-- The job reads dbt's answers: the models there now, and every one dbt creates later.
grant usage on schema :"dbt_schema" to :"loader";
grant select on all tables in schema :"dbt_schema" to :"loader";
alter default privileges for user :"transformer" in schema :"dbt_schema"
grant select on tables to :"loader";
