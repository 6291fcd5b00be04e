"""A misbehaving OCSP "responder" for the stapler's integration tests.

`FakeUpstream` is a threaded HTTP server on 127.0.0.1 (port 0 unless given) whose behaviour is switched
at run time with `set_mode()`:

  proxy          forward the request (GET path or POST body) to `target` (the real ocsp-responder) and
                 relay its status, Content-Type, Cache-Control and body
  sign           answer itself, signed with the issuer's key: status from `statuses` (serial -> "good",
                 "revoked" (keyCompromise) or "hold" (revoked, certificateHold)), thisUpdate = now - backdate,
                 nextUpdate = now + validity
  replay         200, application/ocsp-response, `replay_body` (bytes saved earlier: a replayed answer)
  garbage        200, application/ocsp-response, random bytes
  impostor       a good answer signed by a CA that has the issuer's name but another key (responderID by name)
  wrong_ca       a good answer signed by an unrelated CA (responderID by key hash, its certificate not included)
  wrong_certid   a valid, issuer-signed answer for another certificate (`other_cert`)
  expired        a valid, issuer-signed answer whose thisUpdate and nextUpdate are in the past
  future         a valid, issuer-signed answer whose thisUpdate is 10 minutes ahead (beyond max_skew)
  no_next_update a valid, issuer-signed answer without nextUpdate
  not_delegated  signed by `leaf_signer` (a certificate of the issuer without id-kp-OCSPSigning), included
  trylater       the unsuccessful OCSPResponse tryLater: DER 30 03 0a 01 03
  http500        HTTP 500 with a valid answer as body
  content_type   HTTP 200 with a valid answer but Content-Type text/html
  huge           HTTP 200, application/ocsp-response, a 10 MB body
  huge_stream    HTTP 200, application/ocsp-response, a 10 MB body without Content-Length (ends at close)
  slow           HTTP 200 headers at once, then one body byte every 0.5 s (a valid answer, 20 s to send)
  reset          reads the request and closes the connection without answering
  hang           reads the request and never answers (until close() or release_hangs())

`requests` counts the requests seen per mode, `log` lists (mode, HTTP method, CertID hash name) per
request; `cache_control` (e.g. "max-age=2") is sent with `sign` answers; `wait_for_requests(mode, n)` waits for them. `close()`
stops listening (the port then refuses connections: "responder down") and releases hanging handlers.
Answers are built with `cryptography`'s OCSPResponseBuilder, using only what Debian 12's version
(38) offers.
"""
import base64
import datetime
import http.server
import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID

TRY_LATER_DER = bytes.fromhex("3003 0a01 03".replace(" ", ""))
HUGE_BYTES = 10 * 1024 * 1024
MODES = ("proxy", "sign", "replay", "garbage", "impostor", "wrong_ca", "wrong_certid", "expired", "future", "no_next_update", "not_delegated", "trylater", "http500",
         "content_type", "huge", "huge_stream", "slow", "reset", "hang")


def load_cert(path):
    return x509.load_pem_x509_certificate(Path(path).read_bytes())


def load_key(path):
    return serialization.load_pem_private_key(Path(path).read_bytes(), password=None)


def utcnow():
    # Naive UTC: what cryptography 38 (Debian 12) expects, and later versions still accept.
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None, microsecond=0)


def make_ca(name):
    """A self-signed EC CA made in memory: (certificate, key)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = name if isinstance(name, x509.Name) else x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = utcnow()
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return cert, key


def _hash_of(request):
    algorithm = request.hash_algorithm
    return type(algorithm)() if algorithm is not None else hashes.SHA1()


NO_NEXT_UPDATE = object()


def build_response(cert, issuer, signer_cert, signer_key, status="good", this_update=None, next_update=None,
                   algorithm=None, by_hash=False, revocation_time=None, certs=()):
    """DER of a successful BasicOCSPResponse for `cert` (a cryptography Certificate); next_update may be
    NO_NEXT_UPDATE; `certs` go into the response (a delegated signer's certificate)."""
    now = utcnow()
    this_update = this_update or now
    if next_update is NO_NEXT_UPDATE:
        next_update = None
    else:
        next_update = next_update or now + datetime.timedelta(hours=1)
    builder = ocsp.OCSPResponseBuilder()
    if status in ("revoked", "hold"):
        reason = x509.ReasonFlags.certificate_hold if status == "hold" else x509.ReasonFlags.key_compromise
        builder = builder.add_response(cert=cert, issuer=issuer, algorithm=algorithm or hashes.SHA1(),
                                       cert_status=ocsp.OCSPCertStatus.REVOKED, this_update=this_update,
                                       next_update=next_update, revocation_time=revocation_time or this_update,
                                       revocation_reason=reason)
    else:
        builder = builder.add_response(cert=cert, issuer=issuer, algorithm=algorithm or hashes.SHA1(),
                                       cert_status=ocsp.OCSPCertStatus.GOOD, this_update=this_update,
                                       next_update=next_update, revocation_time=None, revocation_reason=None)
    encoding = ocsp.OCSPResponderEncoding.HASH if by_hash else ocsp.OCSPResponderEncoding.NAME
    builder = builder.responder_id(encoding, signer_cert)
    if certs:
        builder = builder.certificates(list(certs))
    return builder.sign(signer_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


class FakeUpstream:
    def __init__(self, issuer_cert, issuer_key, certs=(), other_cert=None, target=None, mode="proxy",
                 validity=3600, backdate=0, port=0, leaf_signer=None):
        self.issuer = load_cert(issuer_cert)
        self.issuer_key = load_key(issuer_key)
        self.certs = {c.serial_number: c for c in (load_cert(p) for p in certs)}
        self.other_cert = load_cert(other_cert) if other_cert else None
        self.leaf_signer = (load_cert(leaf_signer[0]), load_key(leaf_signer[1])) if leaf_signer else None
        self.target = target.rstrip("/") if target else None
        self.validity = validity
        self.backdate = backdate
        self.statuses = {}  # serial (int) -> "good" | "revoked" | "hold"
        self.replay_body = b""  # what `replay` answers
        self.mode = mode
        self.requests = {}
        self.log = []
        self.paths = []  # request paths, in order
        self.cache_control = None
        self.errors = []
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._impostor = make_ca(self.issuer.subject)
        self._unrelated = make_ca("Unrelated Test CA")
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", port), self._handler_class())
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        self.closed = False

    # control
    def set_mode(self, mode):
        if mode not in MODES:
            raise ValueError(mode)
        with self._lock:
            self.mode = mode

    def set_status(self, cert_path_or_serial, status):
        serial = cert_path_or_serial if isinstance(cert_path_or_serial, int) else load_cert(cert_path_or_serial).serial_number
        self.statuses[serial] = status

    def count(self, mode=None):
        with self._lock:
            return sum(self.requests.values()) if mode is None else self.requests.get(mode, 0)

    def wait_for_requests(self, mode, n, timeout=10.0):
        deadline = time.monotonic() + timeout
        while self.count(mode) < n:
            if time.monotonic() > deadline:
                raise AssertionError(f"fake upstream saw {self.count(mode)} '{mode}' requests, wanted {n}")
            time.sleep(0.02)

    def release_hangs(self):
        """Lets every request hanging so far end (without an answer); later ones hang again."""
        released, self._release = self._release, threading.Event()
        released.set()

    def close(self):
        if self.closed:
            return
        self.closed = True
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    # answers
    def _cert_for(self, request):
        cert = self.certs.get(request.serial_number)
        if cert is None:
            raise LookupError(f"fake upstream does not know serial {request.serial_number:x}")
        return cert

    def answer(self, mode, request_der):
        """(http status, content type, body) for one request in `mode` (not for proxy/hang/huge)."""
        if mode == "trylater":
            return 200, "application/ocsp-response", TRY_LATER_DER
        if mode == "garbage":
            return 200, "application/ocsp-response", os.urandom(600)
        if mode == "replay":
            return 200, "application/ocsp-response", self.replay_body
        request = ocsp.load_der_ocsp_request(request_der)
        algorithm = _hash_of(request)
        now = utcnow()
        cert = self._cert_for(request)
        if mode == "sign":
            return 200, "application/ocsp-response", build_response(
                cert, self.issuer, self.issuer, self.issuer_key, self.statuses.get(cert.serial_number, "good"),
                this_update=now - datetime.timedelta(seconds=self.backdate),
                next_update=now + datetime.timedelta(seconds=self.validity), algorithm=algorithm)
        if mode == "impostor":
            body = build_response(cert, self.issuer, self._impostor[0], self._impostor[1], algorithm=algorithm)
        elif mode == "wrong_ca":
            body = build_response(cert, self.issuer, self._unrelated[0], self._unrelated[1], algorithm=algorithm,
                                  by_hash=True)
        elif mode == "wrong_certid":
            body = build_response(self.other_cert, self.issuer, self.issuer, self.issuer_key, algorithm=algorithm)
        elif mode == "expired":
            body = build_response(cert, self.issuer, self.issuer, self.issuer_key, algorithm=algorithm,
                                  this_update=now - datetime.timedelta(hours=2),
                                  next_update=now - datetime.timedelta(hours=1))
        elif mode == "future":
            body = build_response(cert, self.issuer, self.issuer, self.issuer_key, algorithm=algorithm,
                                  this_update=now + datetime.timedelta(minutes=10),
                                  next_update=now + datetime.timedelta(hours=2))
        elif mode == "no_next_update":
            body = build_response(cert, self.issuer, self.issuer, self.issuer_key, algorithm=algorithm,
                                  next_update=NO_NEXT_UPDATE)
        elif mode == "not_delegated":
            signer, key = self.leaf_signer
            body = build_response(cert, self.issuer, signer, key, algorithm=algorithm, certs=[signer])
        elif mode == "http500":
            return 500, "application/ocsp-response", build_response(cert, self.issuer, self.issuer, self.issuer_key,
                                                                    algorithm=algorithm)
        elif mode == "content_type":
            return 200, "text/html", build_response(cert, self.issuer, self.issuer, self.issuer_key,
                                                    algorithm=algorithm)
        else:
            raise ValueError(mode)
        return 200, "application/ocsp-response", body

    def _handler_class(self):
        upstream = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args):
                pass

            def do_GET(self):
                path = self.path
                encoded = urllib.parse.unquote(path.rsplit("/", 1)[-1])
                try:
                    der = base64.b64decode(encoded + "=" * (-len(encoded) % 4))
                except ValueError:
                    der = b""
                self._serve("GET", der)

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                self._serve("POST", self.rfile.read(length))

            def _serve(self, method, der):
                try:
                    hash_name = ocsp.load_der_ocsp_request(der).hash_algorithm.name
                except Exception:  # noqa: BLE001 - garbage requests are logged as such
                    hash_name = None
                with upstream._lock:
                    mode = upstream.mode
                    upstream.requests[mode] = upstream.requests.get(mode, 0) + 1
                    upstream.log.append((mode, method, hash_name))
                    upstream.paths.append(self.path)
                    release = upstream._release
                try:
                    if mode == "hang":
                        release.wait()
                        return
                    if mode == "reset":
                        self.close_connection = True
                        return
                    if mode in ("huge", "huge_stream"):
                        self._send(200, "application/ocsp-response", None,
                                   length=HUGE_BYTES if mode == "huge" else None)
                        chunk = b"\x30" * 65536
                        for _ in range(HUGE_BYTES // len(chunk)):
                            self.wfile.write(chunk)
                        return
                    if mode == "slow":
                        _, ctype, body = upstream.answer("sign", der)
                        self._send(200, ctype, None, length=len(body))
                        for i in range(min(len(body), 40)):
                            if release.wait(0.5):
                                return
                            self.wfile.write(body[i:i + 1])
                            self.wfile.flush()
                        return
                    if mode == "proxy":
                        status, ctype, cache, body = self._proxy(method, der)
                        self._send(status, ctype, body, cache_control=cache)
                        return
                    status, ctype, body = upstream.answer(mode, der)
                    self._send(status, ctype, body, cache_control=upstream.cache_control if mode == "sign" else None)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                except Exception as e:  # noqa: BLE001 - reported to the test through `errors`
                    upstream.errors.append(f"{mode}: {e!r}")
                    try:
                        self._send(503, "text/plain", str(e).encode())
                    except OSError:
                        pass

            def _proxy(self, method, der):
                if method == "GET":
                    req = urllib.request.Request(upstream.target + self.path)
                else:
                    req = urllib.request.Request(upstream.target + self.path, data=der, method="POST",
                                                 headers={"Content-Type": "application/ocsp-request"})
                try:
                    with urllib.request.urlopen(req, timeout=10) as r:
                        return r.status, r.headers.get("Content-Type"), r.headers.get("Cache-Control"), r.read()
                except urllib.error.HTTPError as e:
                    return e.code, e.headers.get("Content-Type"), None, e.read()

            def _send(self, status, ctype, body, length=None, cache_control=None):
                self.send_response(status)
                if ctype:
                    self.send_header("Content-Type", ctype)
                if cache_control:
                    self.send_header("Cache-Control", cache_control)
                if length is not None or body is not None:
                    self.send_header("Content-Length", str(length if length is not None else len(body)))
                self.end_headers()
                if body is not None:
                    self.wfile.write(body)

        return Handler
