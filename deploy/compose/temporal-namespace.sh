#!/bin/sh
# The namespace the workers use (deploy/compose.yaml): created once, left alone afterwards.
# Needs the `temporal` CLI (admin-tools image) and TEMPORAL_ADDRESS; SYNTHMIX_NAMESPACE names it.
set -eu
namespace=${SYNTHMIX_NAMESPACE:-default}
if temporal operator namespace describe --namespace "$namespace" >/dev/null 2>&1; then
  echo "namespace $namespace exists"
else
  temporal operator namespace create --namespace "$namespace" --retention 30d
  echo "namespace $namespace created"
fi
