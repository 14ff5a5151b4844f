#!/bin/sh
# One-shot init for the compose stack (service `minio-init`, image minio/mc): create the lake
# bucket (private) and a pipeline user that may only use that bucket — the local version of the
# IAM policy scoped to the lake bucket in terraform/. Safe to run again.
set -eu

: "${MINIO_ROOT_USER:?set in .env}"
: "${MINIO_ROOT_PASSWORD:?set in .env}"
: "${MINIO_LAKE_BUCKET:?set in .env}"
: "${MINIO_LAKE_ACCESS_KEY:?set in .env}"
: "${MINIO_LAKE_SECRET_KEY:?set in .env}"

mc alias set local http://minio:9000 "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD"

mc mb --ignore-existing "local/$MINIO_LAKE_BUCKET"
mc anonymous set none "local/$MINIO_LAKE_BUCKET"

policy=$(mktemp)
cat > "$policy" <<JSON
{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow",
     "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
     "Resource": ["arn:aws:s3:::${MINIO_LAKE_BUCKET}"]},
    {"Effect": "Allow",
     "Action": ["s3:GetObject", "s3:PutObject"],
     "Resource": ["arn:aws:s3:::${MINIO_LAKE_BUCKET}/*"]}
  ]
}
JSON
mc admin policy create local spacex-lake "$policy"
rm -f "$policy"

mc admin user add local "$MINIO_LAKE_ACCESS_KEY" "$MINIO_LAKE_SECRET_KEY"
if ! mc admin user info local "$MINIO_LAKE_ACCESS_KEY" | grep -q 'spacex-lake'; then
    mc admin policy attach local spacex-lake --user "$MINIO_LAKE_ACCESS_KEY"
fi

echo "minio-init: bucket $MINIO_LAKE_BUCKET and user $MINIO_LAKE_ACCESS_KEY ready"
