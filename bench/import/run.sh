#!/usr/bin/env bash
# Times `ocspctl import-index` on a generated index.txt: a first import into an empty database and an
# idempotent re-import of the same file. Builds nothing: pass the ocspctl to measure.
#
#   bench/import/run.sh build/schema/ocspctl [LINES]
#
# Needs python3 (the generator) and the openssl CLI (a throwaway CA). Works in a temp dir it removes.
set -euo pipefail

if [[ $# -lt 1 || $# -gt 2 ]]; then
  echo "usage: $0 OCSPCTL [LINES]" >&2
  exit 1
fi
ocspctl=$(realpath "$1")
lines=${2:-1000000}
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-python3}

work=$(mktemp -d "${TMPDIR:-/tmp}/ocspkit-bench-import.XXXXXX")
trap 'rm -rf "$work"' EXIT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/ca.key" \
  -out "$work/ca.pem" -subj "/CN=ocspkit bench CA" -days 30 \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
"$python" "$here/gen_index.py" --lines "$lines" "$work/index.txt"
"$ocspctl" init --db "$work/index.db" >/dev/null
"$ocspctl" issuer add --db "$work/index.db" "$work/ca.pem" >/dev/null

# Wall-clock seconds of one import, with ocspctl's summary line on stderr for the record.
timed_import() {
  local start end
  start=$(date +%s.%N)
  "$ocspctl" import-index --db "$work/index.db" --issuer 1 "$work/index.txt" >"$work/out.txt"
  end=$(date +%s.%N)
  cat "$work/out.txt" >&2
  echo "$start $end" | awk '{ printf "%.2f", $2 - $1 }'
}

# Other work on the machine skews wall-clock times; the load average says how much there was.
load=$(cut -d' ' -f1 /proc/loadavg)
first=$(timed_import)
again=$(timed_import)
size=$(stat -c %s "$work/index.db")
cores=$(nproc)

awk -v n="$lines" -v a="$first" -v b="$again" -v size="$size" -v cores="$cores" -v load="$load" 'BEGIN {
  printf "import-index %d lines: first import %.2f s (%.0f rows/s), re-import %.2f s (%.0f rows/s), " \
         "database %.0f MB, %d cores, load average %s\n", n, a, n / a, b, n / b, size / 1e6, cores, load
}'
