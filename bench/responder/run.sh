#!/usr/bin/env bash
# Responder benchmark, side by side with peers in one run (../shared/bench kit):
#   1) our cached GET/POST and nonce path vs `openssl ocsp -multi 2` and nginx serving static DER
#   2) start-up time and resident memory with a 1,000,000-certificate index
# usage: bench/responder/run.sh [BUILD_DIR=build] [DURATION_S=8] [REPS=2]
# env:   BENCH_KIT  the peer kit (default ../shared/bench; copied to a temp dir if not writable)
#        PEERS      default "openssl-rsa-m2 openssl-ec-m2 nginx-rsa nginx-ec"
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="$(cd "${1:-$root/build}" && pwd)"; dur="${2:-8}"; reps="${3:-2}"
ocspctl="$build/schema/ocspctl"; responder="$build/responder/ocsp-responder"
kit="${BENCH_KIT:-$root/../shared/bench}"
if ! touch "$kit/.writable" 2>/dev/null; then
  copy="$(mktemp -d)/bench"; cp -r "$kit" "$copy"; kit="$copy"
fi
rm -f "$kit/.writable"
pki="$kit/pki"
[[ -f "$pki/resp/ec/cfssl-responses.txt" ]] || (cd "$kit" && ./mkpki.sh && ./mkreqs.sh && ./mkresp.sh)

work="$(mktemp -d -t ocspkit-bench.XXXXXX)"
trap 'pkill -f "ocsp-responder --config $work" 2>/dev/null || true; rm -rf "$work"' EXIT
make_config() { # make_config DB PORT OUT
  cat > "$3" <<TOML
database = "$1"
[server]
listen = ["127.0.0.1:$2"]
[log]
level = "warn"
access_log = false
[[issuer]]
name = "rsa"
ca = "$pki/rsa/ca.pem"
signer_cert = "$pki/rsa/ocsp.pem"
signer_key = "$pki/rsa/ocsp.key"
[[issuer]]
name = "ec"
ca = "$pki/ec/ca.pem"
signer_cert = "$pki/ec/ocsp.pem"
signer_key = "$pki/ec/ocsp.key"
TOML
}
fill_index() { # fill_index DB INDEX_TXT
  "$ocspctl" init --db "$1" >/dev/null
  for v in rsa ec; do
    "$ocspctl" issuer add "$pki/$v/ca.pem" --db "$1" >/dev/null
    "$ocspctl" import-index --issuer "$pki/$v/ca.pem" "$2" --db "$1"
  done
}

echo "== 1) throughput and latency, peers and ours in one sitting"
fill_index "$work/index.db" "$pki/index.txt"
make_config "$work/index.db" 18200 "$work/own.toml"
OWN_CMD="$responder --config $work/own.toml" PEERS="${PEERS:-openssl-rsa-m2 openssl-ec-m2 nginx-rsa nginx-ec}" \
  MODES="post:sha1-nononce get:sha1-nononce post:sha1-nonce" "$kit/suite.sh" "$dur" "$reps" 64 unpinned
echo "== signing ceilings of this CPU"
"$kit/speed.sh" 2 | grep -E 'bits|##' || true

echo "== 2) start-up and memory with a 1,000,000-certificate index"
python3 "$kit/mkindex.py" 1000000 "$work/index-1m.txt" "$work/serials-1m.txt" 7 >/dev/null
fill_index "$work/index-1m.db" "$work/index-1m.txt"
make_config "$work/index-1m.db" 18300 "$work/big.toml"
start_ns=$(date +%s%N)
setsid "$responder" --config "$work/big.toml" --ready-file "$work/big.ready" > "$work/big.log" 2>&1 &
pid=$!
while [[ ! -s "$work/big.ready" ]]; do sleep 0.005; done
ready_ns=$(date +%s%N)
echo "start-up to listening: $(( (ready_ns - start_ns) / 1000000 )) ms (index of 2 x 1,000,000 rows)"
echo "RSS after start: $(awk '/VmRSS/{print $2, $3}' /proc/$pid/status)"
(cd "$kit" && ./run-peer.sh http://127.0.0.1:18300/ post ec/sha1-nononce 5 64 2>&1 | grep '^==') || true
(cd "$kit" && ./run-peer.sh http://127.0.0.1:18300/ post rsa/sha1-nononce 5 64 2>&1 | grep '^==') || true
echo "RSS after load: $(awk '/VmRSS/{print $2, $3}' /proc/$pid/status); peak $(awk '/VmHWM/{print $2, $3}' /proc/$pid/status)"
kill -TERM "$pid"; wait "$pid" || true
