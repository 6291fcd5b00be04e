#!/usr/bin/env bash
# The demo: builds ocspkit, makes a small PKI with `openssl ca`, fills the index with ocspctl, starts
# ocsp-responder on a loopback port, queries it with `openssl ocsp`, revokes a certificate, shows the
# new answer, then starts ocsp-stapler and a TLS server that staples from its shared-memory cache, shows
# a stapled handshake with `openssl s_client -status`; then nginx requiring client certificates checks
# them through the stapler's OCSP proxy: a good client let in, a revoked one refused, and the good one
# still let in while the responder is down; and a TLS server linked with libocspstaple checks the same
# clients from the stapler's client cache. Stops everything it started.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/install-deps.sh"
cd "$root"
echo "== building"
cmake --preset default >/dev/null
cmake --build --preset default -j "$(nproc)" >/dev/null
bin="$root/build"
ocspctl="$bin/schema/ocspctl"
responder="$bin/responder/ocsp-responder"
stapler="$bin/stapler/daemon/ocsp-stapler"
staple_server="$bin/stapler/staple-example-server"

work="$(mktemp -d -t ocspkit-demo.XXXXXX)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port="$(free_port)"
url="http://127.0.0.1:$port"
proxy_port="$(free_port)"
mtls_port="$(free_port)"

step "a demo CA made with openssl (EC P-256), issuing three certificates whose AIA points at $url"
mkdir -p ca/certs && touch ca/index.txt && echo 1000 > ca/serial
cat > ca/ca.cnf <<CNF
[ ca ]
default_ca = demo
[ demo ]
dir = $work/ca
database = \$dir/index.txt
new_certs_dir = \$dir/certs
serial = \$dir/serial
certificate = \$dir/ca.pem
private_key = \$dir/ca.key
default_md = sha256
default_days = 90
policy = any
unique_subject = no
[ any ]
commonName = supplied
[ req ]
distinguished_name = dn
[ dn ]
[ v3_ca ]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[ leaf ]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth,clientAuth
authorityInfoAccess = OCSP;URI:$url
[ ocsp ]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = OCSPSigning
noCheck = ignored
CNF
genkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; chmod 600 "$1"; }
genkey ca/ca.key
openssl req -new -x509 -key ca/ca.key -out ca/ca.pem -days 365 -subj "/O=ocspkit demo/CN=Demo Issuing CA" \
  -config ca/ca.cnf -extensions v3_ca
issue() {
  genkey "ca/$1.key"
  openssl req -new -key "ca/$1.key" -subj "/CN=$1" -out "ca/$1.csr" -config ca/ca.cnf
  openssl ca -batch -config ca/ca.cnf -extensions "${2:-leaf}" -in "ca/$1.csr" -out "ca/$1.pem" -notext 2>/dev/null
}
issue www.demo.test; issue api.demo.test; issue old.demo.test; issue ocsp-signer ocsp
issue alice.client; issue mallory.client   # client certificates for the mTLS part
openssl ca -config ca/ca.cnf -revoke ca/old.demo.test.pem -crl_reason superseded 2>/dev/null
show cat ca/index.txt

step "the certificate index: init, register the CA, import openssl's index.txt"
export OCSPKIT_DB="$work/index.db"
show "$ocspctl" init
show "$ocspctl" issuer add ca/ca.pem
show "$ocspctl" import-index --issuer ca/ca.pem ca/index.txt
show "$ocspctl" list

step "ocsp-responder on $url, signing with a delegated OCSP signer"
cat > responder.toml <<TOML
database = "$work/index.db"
[server]
listen = ["127.0.0.1:$port"]
[log]
level = "info"
access_log = true
[[issuer]]
name = "demo"
ca = "ca/ca.pem"
signer_cert = "ca/ocsp-signer.pem"
signer_key = "ca/ocsp-signer.key"
TOML
show cat responder.toml
show "$responder" --config responder.toml --check-config
"$responder" --config responder.toml --ready-file ready >responder.log 2>&1 &
pids+=($!)
for _ in $(seq 100); do [[ -s ready ]] && break; sleep 0.05; done
[[ -s ready ]] || { cat responder.log; exit 1; }

query() { show openssl ocsp -url "$url" -issuer ca/ca.pem -CAfile ca/ca.pem "$@"; }
step "openssl ocsp: a good, a revoked and a never-issued serial, verified against the CA"
query -cert ca/www.demo.test.pem -cert ca/old.demo.test.pem -serial 0xDEADBEEF -nonce

step "revoke api.demo.test (keyCompromise) while the responder runs"
api_serial="$(openssl x509 -in ca/api.demo.test.pem -noout -serial | cut -d= -f2)"
query -cert ca/api.demo.test.pem
show "$ocspctl" revoke "$api_serial" --reason keyCompromise
sleep 0.3
query -cert ca/api.demo.test.pem
show "$ocspctl" audit --serial "$api_serial"
show "$ocspctl" backup index-backup.db

step "the same answer over HTTP GET (RFC 5019), with its caching headers"
openssl ocsp -issuer ca/ca.pem -cert ca/www.demo.test.pem -no_nonce -reqout req.der
get_path="$(base64 -w0 req.der | python3 -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.stdin.read(), safe=""))')"
show curl -sS -D - -o resp.der "$url/$get_path"
show openssl ocsp -respin resp.der -CAfile ca/ca.pem -issuer ca/ca.pem -cert ca/www.demo.test.pem

step "health and a few metrics"
show curl -sS "$url/health"
curl -sS "$url/metrics" | grep -E '^ocsp_(responses_total|cert_status_total|cache_(hits|misses)_total|signatures_total)'

step "ocsp-stapler: prefetches the staple for www.demo.test before anybody asks, into shared memory"
cat ca/www.demo.test.pem ca/ca.pem > www-chain.pem
mkdir -p stapler-state
cat > stapler.toml <<TOML
[stapler]
state_dir = "$work/stapler-state"
shm_path = "$work/staples"
control_socket = "$work/stapler.sock"
[[certificate]]
name = "www"
chain = "$work/www-chain.pem"   # leaf + issuer; the responder URL comes from the leaf's AIA
[proxy]                         # the OCSP caching proxy for servers that check client certificates
listen = ["127.0.0.1:$proxy_port"]
[[proxy.issuer]]
ca = "$work/ca/ca.pem"
responder_url = "$url/"
TOML
show cat stapler.toml
"$stapler" --config stapler.toml --ready-file stapler.ready >stapler.log 2>&1 &
pids+=($!)
for _ in $(seq 200); do [[ -s stapler.ready ]] && break; sleep 0.05; done
[[ -s stapler.ready ]] || { cat stapler.log; exit 1; }
show "$stapler" status --config stapler.toml

step "a TLS server linked with libocspstaple staples from that cache on its very first handshake"
"$staple_server" www-chain.pem ca/www.demo.test.key staples 0 >staple-server.log 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q "listening on" staple-server.log 2>/dev/null && break; sleep 0.05; done
tls_port="$(sed -n 's/^listening on //p' staple-server.log)"
printf '$ openssl s_client -connect 127.0.0.1:%s -status -CAfile ca/ca.pem </dev/null\n' "$tls_port"
openssl s_client -connect "127.0.0.1:$tls_port" -servername www.demo.test -status -CAfile ca/ca.pem </dev/null 2>&1 |
  awk '/OCSP Response Data:/{on=1} on&&/Status|Produced|Update|Serial/{print} /Next Update/{on=0} /Verify return code/{print}'

show "$stapler" refresh --config stapler.toml

step "nginx requires client certificates and checks each through the stapler's OCSP proxy (127.0.0.1:$proxy_port)"
mkdir -p nginx/html nginx/tmp && echo "hello, mTLS client" > nginx/html/index.html
cat > nginx/nginx.conf <<NGINX
$([[ $(id -u) == 0 ]] && echo "user root;" || true)
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log info;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $work/nginx/tmp/body; proxy_temp_path $work/nginx/tmp/proxy;
    fastcgi_temp_path $work/nginx/tmp/fastcgi; uwsgi_temp_path $work/nginx/tmp/uwsgi; scgi_temp_path $work/nginx/tmp/scgi;
    server {
        listen 127.0.0.1:$mtls_port ssl;
        root $work/nginx/html;
        ssl_certificate $work/www-chain.pem;
        ssl_certificate_key $work/ca/www.demo.test.key;
        ssl_verify_client on;
        ssl_client_certificate $work/ca/ca.pem;
        ssl_ocsp on;
        ssl_ocsp_responder http://127.0.0.1:$proxy_port/;
    }
}
NGINX
sed -n '/server {/,/^    }/p' nginx/nginx.conf
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" >nginx/console.log 2>&1 &
pids+=($!)
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$mtls_port") 2>/dev/null && break; sleep 0.05; done
client() {
  printf '$ curl --cert ca/%s.pem https://www.demo.test:%s/\n' "$1" "$mtls_port"
  rm -f page.html
  code="$(curl -sS --max-time 10 --cacert ca/ca.pem --resolve "www.demo.test:$mtls_port:127.0.0.1" \
    --cert "ca/$1.pem" --key "ca/$1.key" -o page.html -w '%{http_code}' "https://www.demo.test:$mtls_port/" 2>&1 || true)"
  if [[ $code == 200 ]]; then echo "  let in: HTTP 200, $(cat page.html)"
  else echo "  refused: HTTP $code, $(sed -n 's:.*<title>\(.*\)</title>.*:\1:p' page.html 2>/dev/null)"; fi
}
client alice.client
client mallory.client
mallory_serial="$(openssl x509 -in ca/mallory.client.pem -noout -serial | cut -d= -f2)"
show "$ocspctl" revoke "$mallory_serial" --reason keyCompromise
sleep 0.3
show "$stapler" refresh --config stapler.toml   # the proxy refetches what it caches
client mallory.client

step "the responder goes down: the proxy still vouches for alice from its cache; mallory stays refused"
kill -TERM "${pids[0]}"; wait "${pids[0]}" || true
client alice.client
client mallory.client
"$stapler" status --config stapler.toml | sed -n '/PROXY ENTRY/,$p'

step "a TLS server linked with libocspstaple checks client certificates itself, from the stapler's client cache"
"$staple_server" www-chain.pem ca/www.demo.test.key staples 0 \
  --client-ca ca/ca.pem --client-cache clients --client-policy hard >mtls-server.log 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q "listening on" mtls-server.log 2>/dev/null && break; sleep 0.05; done
lib_port="$(sed -n 's/^listening on //p' mtls-server.log)"
echo "(ocsp_client_check_install, hard policy; the responder is still down, nothing in the handshake asks it)"
lib_client() {
  printf '$ openssl s_client -connect 127.0.0.1:%s -cert ca/%s.pem\n' "$lib_port" "$1"
  local before; before="$(grep -c '^client ' mtls-server.log || true)"
  openssl s_client -connect "127.0.0.1:$lib_port" -servername www.demo.test -CAfile ca/ca.pem \
    -cert "ca/$1.pem" -key "ca/$1.key" -ign_eof </dev/null >/dev/null 2>&1 || true
  for _ in $(seq 100); do [[ "$(grep -c '^client ' mtls-server.log)" -gt "$before" ]] && break; sleep 0.05; done
  grep '^client ' mtls-server.log | tail -1 | sed 's/^/  server: /'
}
lib_client alice.client
lib_client mallory.client

step "stop nginx, the TLS servers and the stapler; their logs and the responder's"
for pid in "${pids[@]:1}"; do kill -TERM "$pid"; wait "$pid" || true; done
pids=()
cat stapler.log responder.log
step "done: every process stopped, $work removed"
