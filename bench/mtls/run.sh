#!/usr/bin/env bash
# Apache mTLS handshakes/s: no OCSP, OCSP straight to ocsp-responder (with and without nonce), OCSP
# through ocsp-stapler's proxy; see mtls_bench.py. Usage: bench/mtls/run.sh [SECONDS [WORKERS]]
# from the project root after `cmake --build --preset default`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${OCSPKIT_BUILD:-$root/build}"
export OCSPKIT_OCSPCTL="$build/schema/ocspctl" OCSPKIT_RESPONDER="$build/responder/ocsp-responder" \
       OCSPKIT_STAPLER="$build/stapler/daemon/ocsp-stapler"
exec python3 "$root/bench/mtls/mtls_bench.py" "$@"
