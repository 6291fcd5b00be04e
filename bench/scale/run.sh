#!/usr/bin/env bash
# Scale-out benchmark, every tier in one sitting (../shared/bench kit, wrk at 64 connections):
#   1) one responder on SQLite and the same on PostgreSQL, where the database is on the path: the nonce
#      path (every request looked up and signed) and misses (a cache far smaller than the requests);
#      the cached path on both, which must not care where the index is
#   2) nginx proxy_cache in front of two PostgreSQL replicas (the hit path) against nginx serving one
#      static DER file (the kit's nginx-ec peer)
#   3) database lookups per signed miss (PostgreSQL's own index-scan counter over the miss run), and proof that
#      the cache tier answers without the replicas (their request counters do not move)
# usage: bench/scale/run.sh [BUILD_DIR=build] [DURATION_S=8] [REPS=3]
# env:   BENCH_KIT  the peer kit (default ../shared/bench; copied to a temp dir if not writable)
#        MISS_ROWS  certificates in the index of the miss runs (default 1000000)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="$(cd "${1:-$root/build}" && pwd)"; dur="${2:-8}"; reps="${3:-3}"
ocspctl="$build/schema/ocspctl"; responder="$build/responder/ocsp-responder"
miss_rows="${MISS_ROWS:-1000000}"
kit="${BENCH_KIT:-$root/../shared/bench}"
if ! touch "$kit/.writable" 2>/dev/null; then
  copy="$(mktemp -d)/bench"; cp -r "$kit" "$copy"; kit="$copy"
fi
rm -f "$kit/.writable"
pki="$kit/pki"
[[ -f "$pki/resp/ec/static.der" ]] || (cd "$kit" && ./mkpki.sh && ./mkreqs.sh && ./mkresp.sh)

work="$(mktemp -d -t ocspkit-scale.XXXXXX)"
chmod 755 "$work"
pg_bin="${OCSPKIT_PG_BINDIR:-$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)}"
as_pg=(); [[ $(id -u) == 0 ]] && as_pg=(runuser -u postgres --)
pg_port=15432
cleanup() {
  pkill -f "ocsp-responder --config $work" 2>/dev/null || true
  [[ -f "$work/nginx.pid" ]] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  [[ -d "$work/pg/data" ]] && "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$work/pg/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "== PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') on a unix socket (defaults, fsync on)"
mkdir -p "$work/pg"; [[ $(id -u) == 0 ]] && chown postgres "$work/pg"
"${as_pg[@]}" "$pg_bin/initdb" -D "$work/pg/data" -U ocspkit --auth=trust -E UTF8 >/dev/null
"${as_pg[@]}" "$pg_bin/pg_ctl" -D "$work/pg/data" -l "$work/pg/server.log" -w \
  -o "-k $work/pg -p $pg_port -c listen_addresses='' -c shared_buffers=256MB" start >/dev/null
pg_db() { echo "host=$work/pg port=$pg_port user=ocspkit dbname=$1"; }
psql_q() { "$pg_bin/psql" -X -A -t -q -d "$(pg_db ocspkit)" -c "$1"; }
"$pg_bin/createdb" -h "$work/pg" -p $pg_port -U ocspkit ocspkit
"$pg_bin/createdb" -h "$work/pg" -p $pg_port -U ocspkit ocspkit_misses

fill_index() { # fill_index DB INDEX_TXT
  "$ocspctl" init --db "$1" >/dev/null
  for v in rsa ec; do
    "$ocspctl" issuer add "$pki/$v/ca.pem" --db "$1" >/dev/null
    "$ocspctl" import-index --issuer "$pki/$v/ca.pem" "$2" --db "$1" | tail -1
  done
}
make_config() { # make_config DB PORT OUT [CACHE_MIB]
  cat > "$3" <<TOML
database = "$1"
[server]
listen = ["127.0.0.1:$2"]
cache_mib = ${4:-64}
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

echo "== indexes: the kit's (2 x $(wc -l < "$pki/index.txt") rows) and one of $miss_rows rows for the miss runs"
python3 "$kit/mkindex.py" "$miss_rows" "$work/misses.txt" "$work/misses-serials.txt" 11 >/dev/null
for db in "$work/index.db" "$(pg_db ocspkit)"; do fill_index "$db" "$pki/index.txt"; done
for db in "$work/misses.db" "$(pg_db ocspkit_misses)"; do
  "$ocspctl" init --db "$db" >/dev/null
  # Both issuers registered (the responder's configuration names both); the big index is the EC CA's.
  for v in rsa ec; do "$ocspctl" issuer add "$pki/$v/ca.pem" --db "$db" >/dev/null; done
  "$ocspctl" import-index --issuer "$pki/ec/ca.pem" "$work/misses.txt" --db "$db" | tail -1
done
# GET paths for 200,000 distinct serials of the big index, built from one of the kit's requests (the
# same CertID hashes, another serial): replayed round-robin, a 1 MiB cache answers almost none of them.
python3 "$root/bench/scale/miss_requests.py" "$pki/reqs/ec/sha1-nononce.list" "$work/misses-serials.txt" 200000 \
  > "$work/misses.get"

responder_pids=()
start_responder() { # start_responder CONFIG
  local ready="$1.ready"; rm -f "$ready"
  setsid "$responder" --config "$1" --ready-file "$ready" >> "$work/responders.log" 2>&1 &
  responder_pids+=($!)
  for _ in $(seq 500); do [[ -s "$ready" ]] && return 0; sleep 0.02; done
  echo "responder $1 did not start:"; tail -5 "$work/responders.log"; exit 1
}
stop_responders() {
  for pid in "${responder_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  responder_pids=()
}
measure() { # measure LABEL URL MODE SET [SERVER_PID] -> appends "LABEL rps" to results; prints the kit's summary line
  local out; out=$(cd "$kit" && SERVER_PID="${5:-${responder_pids[0]:-}}" LABEL="$1" ./run-peer.sh "$2" "$3" "$4" "$dur" 64 2>&1)
  grep '^==' <<<"$out" || true
  local rps; rps=$(grep "^RESULT " <<<"$out" | tail -1 | sed 's/^RESULT //' | python3 -c 'import json,sys; print(json.load(sys.stdin)["rps"])')
  echo "$1 $rps" >> "$work/results"
}
# Index scans of the certificates table in the miss index: PostgreSQL's count of lookups.
cert_scans() {
  "$pg_bin/psql" -X -A -t -q -d "$(pg_db ocspkit_misses)" \
    -c "SELECT idx_scan FROM pg_stat_user_tables WHERE relname = 'certificates'"
}
metric() { curl -fsS "http://127.0.0.1:$1/metrics" | awk -v m="$2" '$1 == m {print $2}'; }
# Answers other than `successful` cost no signature and would flatter a figure: any is reported, and the
# run ends failed.
check_answers() { # check_answers PORT LABEL
  local bad; bad=$(curl -fsS "http://127.0.0.1:$1/metrics" |
    awk '$1 ~ /^ocsp_responses_total\{/ && $1 !~ /"successful"/ {n += $2} END {print n + 0}')
  if [[ $bad != 0 ]]; then echo "$2: $bad answers were not successful"; echo "$2 unsuccessful" >> "$work/failures"; fi
}

make_config "$work/index.db" 18210 "$work/sqlite.toml"
make_config "$(pg_db ocspkit)" 18210 "$work/pg.toml"
make_config "$work/misses.db" 18210 "$work/sqlite-misses.toml" 1
make_config "$(pg_db ocspkit_misses)" 18210 "$work/pg-misses.toml" 1
make_config "$(pg_db ocspkit)" 18211 "$work/replica-a.toml"
make_config "$(pg_db ocspkit)" 18212 "$work/replica-b.toml"

mkdir -p "$work/nginx-cache" "$work/nginx-tmp"
cat > "$work/nginx.conf" <<NGINX
worker_processes 2;
pid $work/nginx.pid;
error_log $work/nginx.error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $work/nginx-tmp/body;
  proxy_temp_path $work/nginx-tmp/proxy;
  fastcgi_temp_path $work/nginx-tmp/fastcgi;
  uwsgi_temp_path $work/nginx-tmp/uwsgi;
  scgi_temp_path $work/nginx-tmp/scgi;
  keepalive_requests 1000000;
  proxy_cache_path $work/nginx-cache levels=1:2 keys_zone=ocsp:16m max_size=1g inactive=1h use_temp_path=off;
  upstream replicas { server 127.0.0.1:18211; server 127.0.0.1:18212; keepalive 32; }
  server {
    listen 127.0.0.1:18220;
    # base64 holds "//": the decoded path as the cache key, slashes kept, so every encoding of one
    # request is one object (and one purge).
    merge_slashes off;
    location / {
      proxy_pass http://replicas;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_cache ocsp;
      proxy_cache_key \$uri;
      proxy_cache_lock on;
      proxy_cache_use_stale updating error timeout;
      proxy_cache_background_update on;
    }
  }
}
NGINX

: > "$work/results"; : > "$work/failures"
scans0=$(cert_scans)
for rep in $(seq "$reps"); do
  echo "== round $rep of $reps"
  for db in sqlite pg; do
    start_responder "$work/$db.toml"
    measure "$db-nonce" http://127.0.0.1:18210/ post ec/sha1-nonce
    measure "$db-cached" http://127.0.0.1:18210/ get ec/sha1-nononce
    check_answers 18210 "$db-nonce/cached"
    stop_responders
    start_responder "$work/$db-misses.toml"
    misses0=$(metric 18210 ocsp_cache_misses_total); signed0=$(metric 18210 ocsp_signatures_total)
    later0=$(metric 18210 ocsp_try_later_total)
    measure "$db-miss" http://127.0.0.1:18210/ get "$work/misses.get"
    misses=$(( $(metric 18210 ocsp_cache_misses_total) - misses0 ))
    signed=$(( $(metric 18210 ocsp_signatures_total) - signed0 ))
    later=$(( $(metric 18210 ocsp_try_later_total) - later0 ))
    check_answers 18210 "$db-miss"
    stop_responders  # a backend that exits flushes its statistics
    if [[ $db == pg ]]; then
      # Backends flush their statistics as they exit, a moment after the responder closed them.
      for _ in $(seq 250); do
        [[ $(psql_q "SELECT count(*) FROM pg_stat_activity WHERE datname = 'ocspkit_misses' AND pid <> pg_backend_pid()") == 0 ]] && break
        sleep 0.02
      done
      scans=$(cert_scans)
      # A miss that meets a full signing queue is answered tryLater without a lookup: lookups are
      # counted per answer signed.
      python3 -c "print(f'pg-miss: {$misses} misses, {$signed} signed, {$later} tryLater, ' \
                        f'{$scans - $scans0} certificate index scans: {($scans - $scans0) / max($signed, 1):.2f} lookups per signed miss')"
      scans0=$scans
    fi
  done
  start_responder "$work/replica-a.toml"; start_responder "$work/replica-b.toml"
  nginx -c "$work/nginx.conf" -p "$work"
  for _ in $(seq 100); do [[ -s "$work/nginx.pid" ]] && break; sleep 0.02; done
  # Fill the cache once, then measure hits only; the replicas' request counters show none reach them.
  (cd "$kit" && ./run-peer.sh http://127.0.0.1:18220/ get ec/sha1-nononce 2 8 >/dev/null 2>&1) || true
  before=$(( $(metric 18211 ocsp_cache_hits_total) + $(metric 18211 ocsp_cache_misses_total) +
             $(metric 18212 ocsp_cache_hits_total) + $(metric 18212 ocsp_cache_misses_total) ))
  measure nginx-cache http://127.0.0.1:18220/ get ec/sha1-nononce "$(cat "$work/nginx.pid")"
  after=$(( $(metric 18211 ocsp_cache_hits_total) + $(metric 18211 ocsp_cache_misses_total) +
            $(metric 18212 ocsp_cache_hits_total) + $(metric 18212 ocsp_cache_misses_total) ))
  echo "nginx-cache: requests that reached a replica during the run: $((after - before))"
  kill "$(cat "$work/nginx.pid")"; rm -f "$work/nginx.pid"
  stop_responders
  measure nginx-static nginx-ec get ec/sha1-nononce
done

echo "== medians over $reps rounds (req/s) and the issue's ratios"
python3 - "$work/results" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    label, rps = line.split()
    runs.setdefault(label, []).append(float(rps))
med = {k: statistics.median(v) for k, v in runs.items()}
for k in sorted(med):
    print(f"{k:14s} {med[k]:10.0f}   ({', '.join(f'{x:.0f}' for x in runs[k])})")
def ratio(a, b, goal):
    if a in med and b in med:
        r = med[a] / med[b]
        print(f"{a} / {b} = {r:.2f}  (goal >= {goal})")
ratio("pg-nonce", "sqlite-nonce", 0.9)
ratio("pg-miss", "sqlite-miss", 0.9)
ratio("pg-cached", "sqlite-cached", 0.9)
ratio("nginx-cache", "nginx-static", 0.9)
PY
if [[ -s "$work/failures" ]]; then echo "FAILED: some runs answered other than successful:"; cat "$work/failures"; exit 1; fi
