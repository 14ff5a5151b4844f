#!/usr/bin/env bash
# Stand-in base images for a machine that reaches no container registry (see ../../part-2/README.md):
# Debian bookworm packages only, built once and reused (tagged with a hash of this folder).
#   <prefix>/python:<hash>    Python 3.11 at /usr/local/bin like python:3.11-slim (+ the host's CAs)
#   <prefix>/postgres:<hash>  postgresql-15 with an entrypoint like the official image's
#   <prefix>/s3:<hash>        moto's S3 server on :9000 as `minio`, a small `mc` for the init
# Usage: build.sh            (DOCKER = docker client, DOCKER_HOST = the engine; root, debootstrap)
# Prints the three image references as shell assignments (PYTHON_IMAGE=… POSTGRES_IMAGE=… S3_IMAGE=…).
set -euo pipefail
trap 'echo "stand-ins: failed at line $LINENO: $BASH_COMMAND" >&2' ERR

docker=${DOCKER:-docker}
here=$(cd "$(dirname "$0")" && pwd)
prefix=spacex-standin
# moto as in uv.lock (the tests' S3 stand-in), with its server extra.
moto_version=$(awk '/^name = "moto"$/ {getline; gsub(/[^0-9.]/, ""); print; exit}' "$here/../../uv.lock")
hash=$(cat "$here"/build.sh "$here"/postgres-entrypoint.sh "$here"/minio "$here"/mc \
    | { cat; echo "$moto_version"; } | sha256sum | cut -c1-12)
python_image=$prefix/python:$hash
postgres_image=$prefix/postgres:$hash
s3_image=$prefix/s3:$hash

have() { "$docker" image inspect "$1" >/dev/null 2>&1; }
print() { printf 'PYTHON_IMAGE=%s\nPOSTGRES_IMAGE=%s\nS3_IMAGE=%s\n' "$python_image" "$postgres_image" "$s3_image"; }
if have "$python_image" && have "$postgres_image" && have "$s3_image"; then
    print
    exit 0
fi

# The mirror apt already uses (deb822 or one-line sources).
mirror=$(awk '/^URIs:/ {print $2; exit} /^deb / {print $2; exit}' \
    /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null | head -n1)
mirror=${mirror:-http://deb.debian.org/debian}

work=$(mktemp -d /var/tmp/spacex-standin.XXXXXX)
cleanup() {
    for root in "$work"/*/; do
        mountpoint -q "${root}proc" && umount "${root}proc"
    done
    rm -rf "$work"
}
trap cleanup EXIT

in_root() {  # in_root <rootfs> <command…>: run in the chroot with /proc mounted
    local root=$1
    shift
    mountpoint -q "$root/proc" || mount -t proc proc "$root/proc"
    # A clean environment: the host's (CA bundle paths, pip settings) mean nothing in the chroot.
    chroot "$root" env -i HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive \
        PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin PIP_BREAK_SYSTEM_PACKAGES=1 \
        SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt PIP_CERT=/etc/ssl/certs/ca-certificates.crt "$@"
    umount "$root/proc"
}

import_image() {  # import_image <rootfs> <image> <docker import --change …>
    local root=$1 image=$2
    shift 2
    in_root "$root" apt-get clean
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/tmp/*
    tar -C "$root" -c . | "$docker" import "$@" - "$image" >/dev/null
}

base=$work/python
# The bare Debian tree is kept (STANDIN_CACHE) so a changed recipe does not debootstrap again.
cache=${STANDIN_CACHE:-/var/tmp/spacex-elt-stack}/debian-bookworm-minbase.tar
mkdir -p "$base" "$(dirname "$cache")"
if [[ -s $cache ]]; then
    tar -C "$base" -xf "$cache"
else
    echo "stand-ins: debootstrap bookworm from $mirror" >&2
    debootstrap --variant=minbase bookworm "$base" "$mirror" >"$work/debootstrap.log" 2>&1 \
        || { tail -n 20 "$work/debootstrap.log" >&2; exit 1; }
    tar -C "$base" -cf "$cache.tmp" . && mv "$cache.tmp" "$cache"
fi
# The host's locally added CAs (a TLS-intercepting proxy's, for pip/uv inside builds).
mkdir -p "$base/usr/local/share/ca-certificates"
cp /usr/local/share/ca-certificates/*.crt "$base/usr/local/share/ca-certificates/" 2>/dev/null || true
# No service starts in a chroot; no cluster is created by postgresql-common.
printf '#!/bin/sh\nexit 101\n' >"$base/usr/sbin/policy-rc.d"
chmod 0755 "$base/usr/sbin/policy-rc.d"
in_root "$base" apt-get update -qq 2>/dev/null
in_root "$base" apt-get install -y -qq --no-install-recommends \
    python3.11 python3-venv python3-pip ca-certificates >/dev/null 2>&1
in_root "$base" update-ca-certificates >/dev/null
for name in python3.11 python3 python pip3 pip; do
    target=/usr/bin/python3.11
    [[ $name == pip* ]] && target=/usr/bin/pip3
    ln -sf "$target" "$base/usr/local/bin/$name"
done
python_env=(
    --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin'
    --change 'ENV LANG=C.UTF-8'
    --change 'ENV PIP_BREAK_SYSTEM_PACKAGES=1'
    --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt'
    --change 'CMD ["python3"]'
)

cp -a "$base" "$work/s3"
cp -a "$base" "$work/postgres"
import_image "$base" "$python_image" "${python_env[@]}"

echo "stand-ins: S3 (moto[server]==$moto_version)" >&2
in_root "$work/s3" pip install --no-cache-dir --quiet "moto[server]==$moto_version"
install -m 0755 "$here/minio" "$here/mc" "$work/s3/usr/local/bin/"
import_image "$work/s3" "$s3_image" "${python_env[@]}" \
    --change 'ENTRYPOINT ["/usr/local/bin/minio"]' --change 'CMD ["server", "/data"]'

echo "stand-ins: PostgreSQL 15" >&2
mkdir -p "$work/postgres/etc/postgresql-common"
echo 'create_main_cluster = false' >"$work/postgres/etc/postgresql-common/createcluster.conf"
in_root "$work/postgres" apt-get install -y -qq --no-install-recommends postgresql-15 >/dev/null 2>&1
install -m 0755 "$here/postgres-entrypoint.sh" "$work/postgres/usr/local/bin/docker-entrypoint.sh"
import_image "$work/postgres" "$postgres_image" \
    --change 'ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV PGDATA=/var/lib/postgresql/data' --change 'ENV LANG=C.UTF-8' \
    --change 'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]' --change 'CMD ["postgres"]' \
    --change 'EXPOSE 5432'
# Stand-ins of an older recipe are not used again.
"$docker" images --format '{{.Repository}}:{{.Tag}}' | grep "^$prefix/" | grep -v ":$hash\$" \
    | xargs -r "$docker" rmi >/dev/null || true
print
