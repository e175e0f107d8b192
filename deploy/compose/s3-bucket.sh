#!/bin/sh
# The artifact store's bucket (deploy/compose.yaml, SeaweedFS image): created once through
# `weed shell`, retried while SeaweedFS starts; exits 0 only when the bucket is listed.
# WEED_MASTER is the master's host:port, SYNTHMIX_S3_BUCKET the bucket.
set -eu
bucket=${SYNTHMIX_S3_BUCKET:?SYNTHMIX_S3_BUCKET is not set}
master=${WEED_MASTER:-seaweedfs:9333}
attempts=${S3_BUCKET_ATTEMPTS:-60}
# `s3.bucket.list` prints "  NAME<TAB>size:..." per bucket (POSIX classes, no GNU \b: the image is Alpine-based).
listed() {
  echo "s3.bucket.list" | weed shell -master="$master" 2>/dev/null | grep -q "^[[:space:]]*$bucket[[:space:]]"
}
i=0
while [ "$i" -lt "$attempts" ]; do
  if listed; then
    echo "bucket $bucket exists"
    exit 0
  fi
  echo "s3.bucket.create -name $bucket" | weed shell -master="$master" >/dev/null 2>&1 || true
  i=$((i + 1))
  sleep 2
done
echo "s3-bucket: bucket $bucket not listed by $master after $attempts attempts" >&2
exit 1
