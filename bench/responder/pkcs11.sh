#!/usr/bin/env bash
# Signing throughput through a PKCS#11 token (SoftHSM2) against the same key type in a file: the nonce
# path, where every answer is signed, loaded with wrk on loopback. One CA, one leaf, one request with a
# nonce replayed (a nonce answer is never cached, so each one is a signature).
# usage: bench/responder/pkcs11.sh [BUILD_DIR=build] [DURATION_S=8] [CONNECTIONS=32] [SESSIONS="2 4"]
# needs: softhsm2, opensc (pkcs11-tool), libengine-pkcs11-openssl, wrk, openssl, curl
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="$(cd "${1:-$root/build}" && pwd)"; dur="${2:-8}"; conns="${3:-32}"; sessions_list="${4:-2 4}"
ocspctl="$build/schema/ocspctl"; responder="$build/responder/ocsp-responder"
module=/usr/lib/softhsm/libsofthsm2.so
work="$(mktemp -d -t ocspkit-p11bench.XXXXXX)"
pid=""
cleanup() { [[ -n "$pid" ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
cd "$work"

export SOFTHSM2_CONF="$work/softhsm2.conf"
mkdir tokens
printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' "$work" > softhsm2.conf
softhsm2-util --init-token --free --label bench --pin 1234 --so-pin 5678 >/dev/null
echo 1234 > token.pin && chmod 600 token.pin
printf 'openssl_conf = oc\n[oc]\nengines = es\n[es]\npkcs11 = p11\n[p11]\nMODULE_PATH = %s\n[req]\ndistinguished_name = dn\n[dn]\n' \
  "$module" > engine.cnf
cat > ca.cnf <<CNF
[req]
distinguished_name = dn
[dn]
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
[signer_ext]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = OCSPSigning
CNF
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ca.key 2>/dev/null
openssl req -new -x509 -key ca.key -subj /CN=bench-ca -days 30 -config ca.cnf -extensions ca_ext -out ca.pem
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out leaf.key 2>/dev/null
openssl req -new -key leaf.key -subj /CN=leaf -config ca.cnf -out leaf.csr
openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -set_serial 0x1001 -days 30 -out leaf.pem 2>/dev/null
"$ocspctl" init --db index.db >/dev/null
"$ocspctl" issuer add ca.pem --db index.db >/dev/null
"$ocspctl" import-certs --issuer ca.pem leaf.pem --db index.db >/dev/null

# Each key type twice: generated in the token, and in a file; a delegated signer certificate for each.
for kind in ec rsa; do
  case $kind in ec) p11type=EC:prime256v1; gen=(-algorithm EC -pkeyopt ec_paramgen_curve:P-256);;
                rsa) p11type=rsa:2048; gen=(-algorithm RSA -pkeyopt rsa_keygen_bits:2048);; esac
  pkcs11-tool --module "$module" --token-label bench --login --pin 1234 --keypairgen --key-type "$p11type" \
    --label "$kind-signer" --id "$([[ $kind == ec ]] && echo 01 || echo 02)" >/dev/null
  OPENSSL_CONF=engine.cnf openssl req -new -engine pkcs11 -keyform engine \
    -key "pkcs11:token=bench;object=$kind-signer;type=private;pin-value=1234" -subj "/CN=$kind token signer" \
    -out "$kind-token.csr" 2>/dev/null
  openssl genpkey "${gen[@]}" -out "$kind-file.key" 2>/dev/null && chmod 600 "$kind-file.key"
  openssl req -new -key "$kind-file.key" -subj "/CN=$kind file signer" -config ca.cnf -out "$kind-file.csr"
  for where in token file; do
    openssl x509 -req -in "$kind-$where.csr" -CA ca.pem -CAkey ca.key -set_serial "0x$RANDOM$RANDOM" -days 30 \
      -extfile ca.cnf -extensions signer_ext -out "$kind-$where.pem" 2>/dev/null
  done
done
openssl ocsp -issuer ca.pem -cert leaf.pem -nonce -reqout req.der >/dev/null
cat > post.lua <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/ocsp-request"
local f = io.open("req.der", "rb"); wrk.body = f:read("*a"); f:close()
LUA

run() { # run LABEL KEY_LINE CERT SESSIONS
  cat > "r.toml" <<TOML
database = "$work/index.db"
[server]
listen = ["127.0.0.1:18290"]
signing_threads = 2
[log]
level = "warn"
access_log = false
[pkcs11]
module = "$module"
sessions = $4
[[issuer]]
name = "bench"
ca = "$work/ca.pem"
signer_cert = "$work/$3"
$2
TOML
  setsid "$responder" --config r.toml --ready-file ready >"$1.log" 2>&1 & pid=$!
  for _ in $(seq 200); do [[ -s ready ]] && break; sleep 0.05; done
  rm -f ready
  openssl ocsp -issuer ca.pem -cert leaf.pem -url http://127.0.0.1:18290/ -CAfile ca.pem 2>&1 | grep -q 'Response verify OK' \
    || { echo "$1: answers do not verify"; cat "$1.log"; exit 1; }
  local rps
  rps="$(wrk -t2 -c"$conns" -d"${dur}s" -s post.lua http://127.0.0.1:18290/ | awk '/Requests\/sec/ {print $2}')"
  local try_later
  try_later="$(curl -s http://127.0.0.1:18290/metrics | awk -F' ' '/^ocsp_responses_total\{status="tryLater"\}/ {print $2}')"
  printf '| %-34s | %10s | %8s |\n' "$1" "$rps" "$try_later"
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
}

echo "nonce path (every answer signed), wrk -t2 -c$conns -d${dur}s, signing_threads = 2, $(nproc) cores"
printf '| %-34s | %10s | %8s |\n|---|---:|---:|\n' "signer key" "answers/s" "tryLater"
for kind in ec rsa; do
  run "$kind file key" "signer_key = \"$work/$kind-file.key\"" "$kind-file.pem" 2
  for s in $sessions_list; do
    run "$kind SoftHSM token, sessions = $s" \
      "signer_key = \"pkcs11:token=bench;object=$kind-signer;type=private?pin-source=file:$work/token.pin\"" \
      "$kind-token.pem" "$s"
  done
done
