#!/usr/bin/env bash
# Regenerates the seed corpora of the fuzz targets (house rule 12: the seeds are committed, their
# generator sits next to them, no key is committed: the CA key lives in a temp dir only).
#   decode_request/     OCSPRequest DER as `openssl ocsp` writes it, plus broken variants
#   decode_get_path/    request-targets in the spellings real clients use
#   http_request/       limit and cut choices, then a stream of requests (one, pipelined, hostile shapes)
#   validate_response/  mode 0: options, then a response `openssl ocsp` signed; modes 1 and 2: choices
#   shm_reader/         mode 0: cache regions laid out as shm_layout.hpp says; mode 1: choices
#   index_txt/          index.txt lines as `openssl ca` writes them
#   responder_config/   the example configuration and small variants
#   stapler_config/     the example configuration and small variants
#   response_der/       choices for the differential target (signer, times, CertIDs, statuses, nonce)
#   client_miss/        miss datagrams as libocspstaple sends them, and broken ones
#   crl_import/         choices, then CRLs (full, delta, PEM, refused shapes): crl_import_seeds.py
#   warm_start/         warm-start files, most without their checksum (the target seals them): warm_start_seeds.py
# The "choices" seeds are read by the targets' fuzz_input (see each *_fuzzer.cpp for the order).
# Needs the openssl CLI, python3 and coreutils. Keys and nonces are random, so a rerun changes some files.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/ca.key" -out "$tmp/ca.pem" \
  -subj "/CN=Seed CA" -days 30 2>/dev/null

req="$here/decode_request"
path="$here/decode_get_path"
mkdir -p "$req" "$path"
http="$here/http_request"
validate="$here/validate_response"
shm="$here/shm_reader"
index="$here/index_txt"
rconf="$here/responder_config"
sconf="$here/stapler_config"
rder="$here/response_der"
mkdir -p "$http" "$validate" "$shm" "$index" "$rconf" "$sconf" "$rder"
# regression_* files are inputs that once found a bug; grown_* files are what long libFuzzer runs added
# (a -set_cover_merge=1 of their corpus into the seeds, see tests/fuzz/CMakeLists.txt); both are kept.
find "$req" "$path" "$http" "$validate" "$shm" "$index" "$rconf" "$sconf" "$rder" -type f ! -name 'regression_*' \
  ! -name 'grown_*' -delete

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

# HTTP streams. Prefix: header limit (64 + 64*n), body limit (72*n), cut count, cuts (2 octets each).
http_seed() {  # name, prefix (printf escapes), stream (printf format), stream arguments
  local name="$1" prefix="$2" fmt="$3"; shift 3
  { printf "$prefix"; printf "$fmt" "$@"; } >"$http/$name.bin"
}
defaults='\x7f\xe4\x02\x00\x05\x00\x21'  # 8 KiB header, 16 KiB body, cuts at 5 and 33
get="/$(b64 "$req/sha1_one_nonce.der")"
post_body="$req/sha256_two_nonce.der"
len=$(stat -c %s "$post_body")
http_seed get_keep_alive "$defaults" 'GET %s HTTP/1.1\r\nHost: ocsp.example\r\n\r\n' "$get"
http_seed get_conditional "$defaults" 'GET %s HTTP/1.1\r\nHost: h\r\nIf-None-Match: "abc"\r\nIf-Modified-Since: Thu, 01 Jan 2026 00:00:00 GMT\r\nConnection: close\r\n\r\n' "$get"
http_seed get_http10 "$defaults" 'GET %s HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.0\r\n\r\n' "$get"
{ printf "$defaults"; printf 'POST / HTTP/1.1\r\nHost: h\r\nContent-Type: application/ocsp-request\r\nContent-Length: %d\r\n\r\n' "$len"
  cat "$post_body"; printf 'GET %s HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n' "$get"; } >"$http/pipelined_post_get.bin"
{ printf "$defaults"; printf 'POST /ocsp HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n%%x\r\n' "$len"
  cat "$post_body"; printf '\r\n0\r\n\r\n'; } >"$http/post_chunked.bin"
http_seed smuggle_te_cl "$defaults" 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n'
http_seed smuggle_te_list "$defaults" 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, identity\r\n\r\n5\r\nhello\r\n0\r\n\r\n'
http_seed smuggle_te_gzip "$defaults" 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\nContent-Length: 5\r\n\r\nhello'
http_seed expect_continue "$defaults" 'POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc'
http_seed obs_fold "$defaults" 'GET / HTTP/1.1\r\nHost: h\r\nX-A: one\r\n two\r\n\r\n'
http_seed no_host "$defaults" 'GET / HTTP/1.1\r\n\r\n'
http_seed two_content_length "$defaults" 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd'
http_seed bare_lf "$defaults" 'GET / HTTP/1.1\nHost: h\n\n'
http_seed small_limits '\x01\x01\x01\x00\x03' 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\n%0100d' 0
http_seed bad_method "$defaults" 'G\x01T / HTTP/1.1\r\n\r\n'

# Stapler validation. Mode 0: mode, no max_size, max_skew 300 (2 octets), no expected nonce, then DER
# from `openssl ocsp` acting as a responder (its keys are not the target's: the signature fails, the
# parsing before it is what these seeds reach; modes 1 and 2 sign with the target's own keys).
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/leaf.key" -out "$tmp/leaf.csr" \
  -subj "/CN=leaf.example" 2>/dev/null
openssl x509 -req -in "$tmp/leaf.csr" -CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" -set_serial 0x1001 -days 30 \
  -out "$tmp/leaf.pem" 2>/dev/null
printf 'V\t491231235959Z\t\t1001\tunknown\t/CN=leaf.example\n' >"$tmp/index.txt"
openssl ocsp -issuer "$tmp/ca.pem" -cert "$tmp/leaf.pem" -reqout "$tmp/leaf_req.der" -no_nonce >/dev/null
openssl ocsp -issuer "$tmp/ca.pem" -cert "$tmp/leaf.pem" -reqout "$tmp/leaf_req_nonce.der" -nonce >/dev/null
ocsp_resp() {  # name, request, then extra `openssl ocsp` arguments
  local name="$1" request="$2"; shift 2
  openssl ocsp -index "$tmp/index.txt" -CA "$tmp/ca.pem" -rsigner "$tmp/ca.pem" -rkey "$tmp/ca.key" \
    -reqin "$request" -respout "$tmp/$name.der" "$@" >/dev/null 2>&1
  { printf '\x00\x00\x01\x2c\x00'; cat "$tmp/$name.der"; } >"$validate/mode0_$name.bin"
}
ocsp_resp good "$tmp/leaf_req.der" -ndays 1
ocsp_resp good_nonce "$tmp/leaf_req_nonce.der" -ndays 1
ocsp_resp no_next_update "$tmp/leaf_req.der"
ocsp_resp by_key "$tmp/leaf_req.der" -ndays 1 -resp_key_id
printf 'R\t491231235959Z\t260101000000Z,keyCompromise\t1001\tunknown\t/CN=leaf.example\n' >"$tmp/index.txt"
ocsp_resp revoked "$tmp/leaf_req.der" -ndays 1
printf '\x00\x00\x01\x2c\x00\x30\x03\x0a\x01\x03' >"$validate/mode0_try_later.bin"
# Modes 1 and 2: see signed_response() in validate_response_fuzzer.cpp for the order of the choices.
printf '\x01\x00\x01\x2c\x00\x01\x01\x00\x10\x00\x0e\x00\x10\x40\x0b\x00\x00\x00\x00\x00\x00' >"$validate/mode1_good_by_issuer.bin"
printf '\x01\x00\x01\x2c\x00\x01\x01\x01\x10\x00\x0e\x00\x10\x40\x0b\x00\x02\x01\x01\x01\x00\x01' >"$validate/mode1_revoked_delegated.bin"
printf '\x01\x00\x01\x2c\x01\x04abcd\x01\x02\x02\x10\x00\x0e\x00\x10\x40\x0b\x00\x00\x00\x00\x01\x04abcd\x01' >"$validate/mode1_nonce.bin"
printf '\x02\x00\x01\x2c\x00\x01\x01\x00\x10\x00\x0e\x00\x10\x40\x0b\x00\x00\x00\x00\x00\x00\x03\x00\x20\xff\x00\x40\x00\x01\x00\x02' >"$validate/mode2_edits.bin"

# Staple cache regions (mode 0): header (magic, version 1, header size 128, capacity, slot size, file
# size, generation, flags), then slots (seq, meta, key, thisUpdate, nextUpdate, DER).
python3 - "$shm" <<'PY'
import hashlib, struct, sys
out = sys.argv[1]
def region(capacity, slot_size, entries, flags=0, file_size=None, magic=0x4C5054535053434F, version=1):
    size = 128 + capacity * slot_size
    b = bytearray(size)
    struct.pack_into("<QIIIIQQQ", b, 0, magic, version, 128, capacity, slot_size,
                     size if file_size is None else file_size, 1, flags)
    for i, (state, status, action, expired, this_update, next_update, der) in enumerate(entries):
        key = hashlib.sha256(b"leaf %d" % i).digest()
        home = struct.unpack_from("<Q", key)[0] & (capacity - 1)
        slot = 128 + home * slot_size
        while b[slot + 8] != 0:
            home = (home + 1) & (capacity - 1)
            slot = 128 + home * slot_size
        meta = state | status << 8 | action << 16 | expired << 24 | len(der) << 32
        struct.pack_into("<QQ32sqq", b, slot, 0, meta, key, this_update, next_update)
        b[slot + 64:slot + 64 + len(der)] = der
    return bytes(b)
now = 1767225600
der = bytes.fromhex("3082") + bytes(60)
seeds = {
    "empty_4x128": region(4, 128, []),
    "two_entries_8x128": region(8, 128, [(1, 0, 0, 1, now - 3600, now + 86400, der),
                                         (1, 1, 0, 2, now - 60, now - 1, der[:10])]),
    "tombstone_4x192": region(4, 192, [(2, 0, 0, 0, 0, 0, b""), (1, 2, 1, 1, now, now + 60, b"")]),
    "replaced": region(2, 128, [], flags=1),
    "truncated": region(4, 128, [])[:300],
    "wrong_file_size": region(4, 128, [], file_size=4096),
    "wrong_version": region(4, 128, [], version=2),
    "bad_magic": region(4, 128, [], magic=0),
}
for name, data in seeds.items():
    with open(f"{out}/mode0_{name}.bin", "wb") as f:
        f.write(b"\x00\x00\x00" + data)  # mode 0, buffer size choice (2 octets: 0 = no room)
    with open(f"{out}/mode0_{name}_buffer.bin", "wb") as f:
        f.write(b"\x00\x10\x00" + data)  # 4096-byte buffer
PY
# Mode 1: mode, buffer size, log2 capacity, slot size step, generation, entry count, entries, edits.
printf '\x01\x10\x00\x03\x01\x01\x03' >"$shm/mode1_three_entries_no_edit.bin"
printf '\x01\x00\x40\x02\x00\x01\x02keykeykeykeykeykeykeykeykeykeyke\x00\x00\x01\x00\x10\x80\x00\x00\x30' >"$shm/mode1_two_entries.bin"
printf '\x01\x10\x00\x04\x02\x01\x05\x00\x00\x00\x00\x00\x00\x00\x03\x00\x00\x00\xff\x00\x00\x88\x01' >"$shm/mode1_edits.bin"

# index.txt lines in the forms `openssl ca` writes (apps/ca.c), one file per kind and one mixed file.
index_line() { printf '%s\n' "$2" >"$index/$1.txt"; }
index_line valid $'V\t301231235959Z\t\t1001\tunknown\t/C=DE/O=Example/CN=www.example.com'
index_line valid_generalized $'V\t20510101000000Z\t\t0A1B2C3D4E5F60718293A4B5C6D7E8F901020304\tunknown\t/CN=far'
index_line expired $'E\t200101000000Z\t\t02\tunknown\t/CN=old'
index_line revoked_plain $'R\t301231235959Z\t250601120000Z\t03\tunknown\t/CN=r'
index_line revoked_reason $'R\t301231235959Z\t250601120000Z,superseded\t04\tunknown\t/CN=r'
index_line revoked_ca_compromise $'R\t301231235959Z\t250601120000Z,CACompromise\t05\tunknown\t/CN=r'
index_line hold $'R\t301231235959Z\t250601120000Z,certificateHold\t06\tunknown\t/CN=h'
index_line hold_instruction $'R\t301231235959Z\t250601120000Z,holdInstruction,holdInstructionReject\t07\tunknown\t/CN=h'
index_line hold_oid $'R\t301231235959Z\t250601120000Z,holdInstruction,1.2.840.10040.2.2\t08\tunknown\t/CN=h'
index_line key_time $'R\t301231235959Z\t250601120000Z,keyTime,20250501000000Z\t09\tunknown\t/CN=k'
index_line ca_key_time $'R\t301231235959Z\t250601120000Z,CAkeyTime,20250501000000Z\t0A\tunknown\t/CN=k'
index_line remove_from_crl $'R\t301231235959Z\t250601120000Z,removeFromCRL\t0B\tunknown\t/CN=x'
index_line crlf $'V\t301231235959Z\t\t0C\tunknown\t/CN=crlf\r'
index_line bad_fields $'V\t301231235959Z\t0D\tunknown'
index_line bad_time $'R\t301231235959Z\t2506011200Z\t0E\tunknown\t/CN=t'
cat "$index"/*.txt >"$index/mixed_file.txt"

# Configurations: the shipped examples and minimal ones.
cp "$here/../../../deploy/config/responder.toml" "$rconf/example.toml"
cp "$here/../../../deploy/config/stapler.toml" "$sconf/example.toml"
printf 'database = "index.db"\n[[issuer]]\nca = "ca.pem"\n' >"$rconf/minimal.toml"
printf 'database = "index.db"\n[server]\nlisten = ["[::1]:0"]\nio_threads = 0\n[[issuer]]\nca = "ca.pem"\nvalidity = "1x"\n' >"$rconf/bad_values.toml"
printf 'database = "index.db"\n[[issuer]\nca = ' >"$rconf/syntax_error.toml"
printf 'database = "index.db"\n[http_cache]\ns_maxage = "5m"\npurge_attempts = 2\n[[http_cache.purge]]\nurl = "http://[::1]:6081/purge"\nhost = "ocsp.example"\n[[http_cache.purge]]\nurl = "http://cache:0"\n[[issuer]]\nca = "ca.pem"\n' >"$rconf/http_cache.toml"
printf '[stapler]\nstate_dir = "state"\n[[certificate]]\nchain = "www.pem"\n' >"$sconf/minimal.toml"
printf '[stapler]\nshm_slot_size = 100\nretry_initial = "1h"\nretry_max = "1m"\nexpiry_alert = ["1h", "12h"]\n[[directory]]\npath = "certs"\n' >"$sconf/bad_values.toml"
printf '[defaults]\npolicy = "hard"\nnonce = true\nhash = "sha256"\nmethod = "post"\n[[certificate]]\nname = "a b"\nchain = 3\n' >"$sconf/types.toml"

# Differential target: signer, validity, backdate, archive cutoff, include cert, now (3 octets),
# CertID count, then per CertID: hash, hashes, serial length and octets, params, state, expired, ...
printf '\x00\x01\x51\x80\x0e\x10\x01\x00\x78\x6f\x20\x00\x00' >"$rder/ca_by_key_one_good.bin"
printf '\x01\x02\x00\x00\x00\x00\x01\x01\x80\x00\x00\x01\x01%s%s\x08\x80\x11\x22\x33\x44\x55\x66\x77\x00\x01\x01\x00\x05\x00\x00\x01\x02\x03\x04\x05\x01\x00\x01\x00\x02\x01\x00\x01\x10nonce-nonce-nonc' \
  "$(printf '%032d' 0 | tr 0 A)" "$(printf '%032d' 0 | tr 0 B)" >"$rder/ca_by_name_revoked_nonce.bin"
printf '\x02\x00\x00\x10\x00\x00\x00\x01\x00\x00\x00\x00\x03' >"$rder/delegated_three_ids.bin"

# Miss datagrams: "OCSPMISS", version 1, issuerNameHash and issuerKeyHash (SHA-1), the serial's DER.
miss="$here/client_miss"
mkdir -p "$miss"
python3 - "$miss" <<'PY'
import sys
d = sys.argv[1]
head = b"OCSPMISS\x01" + bytes(range(20)) + bytes(range(100, 120))
seeds = {
    "short_serial.bin": head + b"\x02\x01\x05",
    "high_bit_serial.bin": head + b"\x02\x15\x00" + b"\xff" * 20,
    "negative_serial.bin": head + b"\x02\x01\xff",
    "long_form_length.bin": head + b"\x02\x81\x01\x05",
    "trailing_byte.bin": head + b"\x02\x01\x05\x00",
    "version_2.bin": b"OCSPMISS\x02" + head[9:] + b"\x02\x01\x05",
}
for name, data in seeds.items():
    open(f"{d}/{name}", "wb").write(data)
PY

python3 "$here/crl_import_seeds.py" "$here/crl_import"
python3 "$here/warm_start_seeds.py" "$here/warm_start"

echo "seeds: $(ls "$req" | wc -l) requests, $(ls "$path" | wc -l) paths, $(ls "$http" | wc -l) http," \
  "$(ls "$validate" | wc -l) validate, $(ls "$shm" | wc -l) shm, $(ls "$index" | wc -l) index.txt," \
  "$(ls "$rconf" | wc -l)+$(ls "$sconf" | wc -l) configs, $(ls "$rder" | wc -l) response_der, $(ls "$miss" | wc -l) client_miss," \
  "$(ls "$here/crl_import" | wc -l) crl_import (regressions included)"
