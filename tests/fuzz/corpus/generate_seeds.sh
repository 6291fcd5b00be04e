#!/usr/bin/env bash
# Regenerates the seed corpora of the responder fuzz targets (house rule 12: the seeds are committed,
# their generator sits next to them, no key is committed: the CA key lives in a temp dir only).
#   decode_request/   OCSPRequest DER as `openssl ocsp` writes it, plus broken variants
#   decode_get_path/  request-targets in the spellings real clients use
# Needs the openssl CLI and coreutils. Nonces are random, so a rerun changes some files.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/ca.key" -out "$tmp/ca.pem" \
  -subj "/CN=Seed CA" -days 30 2>/dev/null

req="$here/decode_request"
path="$here/decode_get_path"
mkdir -p "$req" "$path"
# regression_* files are inputs that once found a bug; they are kept.
find "$req" "$path" -type f ! -name 'regression_*' -delete

ocsp_req() {  # name, then `openssl ocsp` arguments
  local name="$1"; shift
  openssl ocsp -issuer "$tmp/ca.pem" "$@" -reqout "$req/$name.der" >/dev/null
}
ocsp_req sha1_one_no_nonce -serial 0x01 -no_nonce
ocsp_req sha1_one_nonce -serial 0x1234 -nonce
ocsp_req sha256_two_nonce -sha256 -serial 0x1001 -serial 0x1002 -nonce
ocsp_req sha384_high_bit_serial -sha384 -serial 0x80F1E2D3C4B5A69788796A5B4C3D2E1F00112233 -no_nonce
ocsp_req sha512_zero_serial -sha512 -serial 0x00 -no_nonce
ocsp_req signed_request -serial 0x05 -signer "$tmp/ca.pem" -signkey "$tmp/ca.key" -no_nonce
ocsp_req mixed_hashes -serial 0x0A -sha256 -serial 0x0B -sha384 -serial 0x0C -no_nonce

# Broken variants of a valid request.
base="$req/sha256_two_nonce.der"
size=$(stat -c %s "$base")
head -c $((size - 1)) "$base" >"$req/broken_truncated.der"
{ cat "$base"; printf '\x00'; } >"$req/broken_trailing_zero.der"
# BER indefinite length around a request whose DER length has the short form (2-octet header).
{ printf '\x30\x80'; tail -c +3 "$req/sha1_one_nonce.der"; printf '\x00\x00'; } >"$req/broken_indefinite_length.der"
printf '\x30\x84\xff\xff\xff\xf0\x30\x00' >"$req/broken_huge_length.der"
for _ in $(seq 1 200); do printf '\x30\x80'; done >"$req/broken_deep_nesting.der"

# GET request-targets.
b64() { base64 -w0 "$1"; }
for f in sha1_one_nonce sha256_two_nonce mixed_hashes; do
  s="$(b64 "$req/$f.der")"
  printf '/%s' "$s" >"$path/${f}_raw.txt"
  printf '/ocsp/%s' "$(printf '%s' "$s" | sed -e 's/+/%2B/g' -e 's|/|%2F|g' -e 's/=/%3D/g')" >"$path/${f}_percent.txt"
  printf '//%s' "$(printf '%s' "$s" | sed -e 's/+/%2b/g' -e 's|/|%2f|g' -e 's/=/%3d/g')" >"$path/${f}_percent_lower.txt"
  printf '/%s' "$(printf '%s' "$s" | tr '+/' '-_' | tr -d '=')" >"$path/${f}_base64url.txt"
  printf 'http://ocsp.example/ocsp/%s?x=1' "$s" >"$path/${f}_absolute.txt"
done
printf '/%%zz' >"$path/broken_percent.txt"
printf '/ocsp/MEIw%%' >"$path/broken_truncated_percent.txt"
printf '/MEIw===' >"$path/broken_padding.txt"
echo "seeds: $(ls "$req" | wc -l) requests, $(ls "$path" | wc -l) paths (regressions included)"
