#!/usr/bin/env bash
# mTLS handshakes/s with and without checking the client certificate's status, in one run: Apache (no
# OCSP; OCSP straight to ocsp-responder with and without nonce; through ocsp-stapler's proxy), nginx (no
# OCSP; through the proxy) and the example server (no check; libocspstaple's ocsp_client_check_install).
# See mtls_bench.py. Usage: bench/mtls/run.sh [SECONDS [WORKERS [ROUNDS]]] from the project root after
# `cmake --build --preset default`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${OCSPKIT_BUILD:-$root/build}"
export OCSPKIT_OCSPCTL="$build/schema/ocspctl" OCSPKIT_RESPONDER="$build/responder/ocsp-responder" \
       OCSPKIT_STAPLER="$build/stapler/daemon/ocsp-stapler" OCSPKIT_STAPLE_SERVER="$build/stapler/staple-example-server"
exec python3 "$root/bench/mtls/mtls_bench.py" "$@"
