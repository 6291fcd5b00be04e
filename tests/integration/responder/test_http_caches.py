"""HTTP caches in front of ocsp-responder replicas: nginx proxy_cache (with the cache_purge module in a
separate purge server) and Varnish, each in front of two replicas answering from one SQLite index.

Asserted through each cache:
  * repeated GETs are cache hits: the replicas' answer counters (cache hits + misses) do not move, and
    percent-encoded forms of the same request hit the same object; nonce, unknown, error and POST
    answers reach a replica every time;
  * `ocspctl revoke` is served revoked within 1 s, because the replicas PURGE the certificate's RFC 5019
    GET URLs (SHA-1 and SHA-256) at the cache, and the purge also drops what was fetched percent-encoded;
  * with the purge target unreachable, the cached good answer stays until http_cache.s_maxage, then the
    revoked one appears.
The configurations are those of deploy/scale-out/ with loopback ports and a temp folder filled in.
Skipped (exit 77) when varnishd or nginx's cache_purge module is missing.
"""
import base64
import http.client
import os
import re
import shutil
import socket
import sys
import tempfile
import time
import unittest
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib"))
from ocspkit_testlib import (Index, Pki, Responder, make_request_der,  # noqa: E402
                             response_text, responder_issuer)
from tls_servers import NGINX, _Server, have_nginx  # noqa: E402

SKIP = 77
VARNISHD = os.environ.get("OCSPKIT_VARNISHD") or shutil.which("varnishd") or "/usr/sbin/varnishd"
PURGE_MODULE = Path(os.environ.get("OCSPKIT_NGINX_CACHE_PURGE",
                                   "/usr/lib/nginx/modules/ngx_http_cache_purge_module.so"))
S_MAXAGE = 2  # seconds: the cap of the replicas without a working purge target
PURGE_DEADLINE = 1.0  # seconds from `ocspctl revoke` to a revoked answer through a purged cache
DEPLOY = Path(__file__).resolve().parents[3] / "deploy" / "scale-out"


def free_ports(n):
    """n distinct free loopback ports (free_port() twice in a row may give the same one)."""
    socks = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def have_varnish():
    return os.path.isfile(VARNISHD) and os.access(VARNISHD, os.X_OK)


def fill_in(template: Path, values: dict):
    """deploy/scale-out/ files with @NAME@ placeholders, the way an operator would fill them in."""
    text = template.read_text()
    for name, value in values.items():
        text = text.replace(f"@{name}@", str(value))
    leftover = re.findall(r"@[A-Z_]+@", text)
    if leftover:
        raise AssertionError(f"{template.name}: unfilled placeholders {leftover}")
    return text


class NginxCache(_Server):
    """deploy/scale-out/nginx-ocsp-cache.conf: a caching front on `port` for `replicas` and a purge
    server on `purge_port`."""

    name = "nginx"

    def __init__(self, workdir, port, replicas, purge_port):
        super().__init__(workdir, port)
        tmp = self.dir / "tmp"
        tmp.mkdir(exist_ok=True)
        self.conf = self.dir / "nginx.conf"
        main = ["daemon off;", f"pid {self.dir / 'nginx.pid'};", f"error_log {self.error_log} info;"]
        if os.geteuid() == 0:
            main.insert(0, "user root;")  # the workers must read the test's private temp folder
        http = [f"    access_log {self.dir / 'access.log'};"]
        http += [f"    {kind}_temp_path {tmp / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")]
        self.conf.write_text(fill_in(DEPLOY / "nginx-ocsp-cache.conf", {
            "MODULE": PURGE_MODULE,
            "MAIN": "\n".join(main),
            "HTTP": "\n".join(http),
            "CACHE_DIR": self.dir / "cache",
            "REPLICAS": "\n".join(f"        server 127.0.0.1:{p};" for p in replicas),
            "LISTEN": f"127.0.0.1:{port}",
            "PURGE_LISTEN": f"127.0.0.1:{purge_port}",
            "PURGERS": "127.0.0.1",
        }))

    def command(self):
        return [NGINX, "-p", str(self.dir), "-c", str(self.conf), "-e", str(self.error_log)]


class Varnish(_Server):
    """deploy/scale-out/ocsp-cache.vcl in front of `replicas`, run in the foreground by the current user
    (no jail: the test owns every file, and a root varnishd would otherwise drop to the varnish user,
    who cannot read the test's private temp folder)."""

    name = "varnish"
    start_timeout = 30.0  # varnishd compiles the VCL with the C compiler first

    def __init__(self, workdir, port, replicas):
        super().__init__(workdir, port)
        backends = "\n".join(
            f'backend replica{i} {{ .host = "127.0.0.1"; .port = "{p}"; }}' for i, p in enumerate(replicas))
        adds = "\n".join(f"    replicas.add_backend(replica{i});" for i in range(len(replicas)))
        self.vcl = self.dir / "ocsp-cache.vcl"
        self.vcl.write_text(fill_in(DEPLOY / "ocsp-cache.vcl", {"BACKENDS": backends, "ADD_BACKENDS": adds,
                                                                "PURGERS": '"127.0.0.1";'}))

    def command(self):
        return [VARNISHD, "-F", "-j", "none", "-n", str(self.dir / "work"), "-a", f"127.0.0.1:{self.port}",
                "-T", "none", "-f", str(self.vcl), "-s", "malloc,32m"]


def get(port, target, method="GET", body=None, headers=None):
    """One request with exactly this request-target; returns (status, headers dict, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, target, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def metrics_text(responder):
    status, _, body = get(responder.port, "/metrics")
    assert status == 200, status
    return body.decode()


def labelled_metric(responder, name, target):
    for line in metrics_text(responder).splitlines():
        if line.startswith(f'{name}{{target="{target}"}} '):
            return float(line.split()[-1])
    raise AssertionError(f"{name} for {target} missing:\n{metrics_text(responder)}")


def answers(replicas):
    """OCSP answers the replicas gave (from their cache or signed): what a cache hit does not move."""
    return sum(r.metric("ocsp_cache_hits_total") + r.metric("ocsp_cache_misses_total") for r in replicas)


class _CacheTests:
    """The assertions, for the cache a subclass starts in setUpClass in front of `purging` (which purge
    it) on front_port, and in front of `unpurged` (whose purge target is down) on unpurged_port."""

    @classmethod
    def build(cls, prefix):
        cls.tmp = tempfile.TemporaryDirectory(prefix=prefix)
        cls.addClassCleanup(cls.tmp.cleanup)
        cls.root = Path(cls.tmp.name)
        cls.pki = Pki(cls.root, "Cache CA", key="ec")
        cls.certs = {}
        for name in ("hit", "purged", "unpurged", "uncacheable"):
            cert, _, serial = cls.pki.issue(f"leaf-{name}")
            cls.certs[name] = {"cert": cert, "serial": serial}
        cls.db = cls.root / "index.db"
        cls.index = Index(cls.db)
        cls.index.add_pki(cls.pki)
        cls.issuer = responder_issuer(cls.pki, "cache-ca")
        (cls.front_port, cls.unpurged_port, cls.purge_port, cls.unused_purge_port,
         dead_port) = free_ports(5)
        # Nothing listens on this port: every purge fails, and only s-maxage bounds the cached answer.
        cls.dead_target = f"http://127.0.0.1:{dead_port}"

    @classmethod
    def replicas(cls, name, http_cache):
        """Two responders on the one index; [http_cache] goes after [server] (Responder's extra_server)."""
        out = []
        for i in range(2):
            workdir = cls.root / f"{name}-{i}"
            workdir.mkdir()
            r = Responder(workdir, cls.db, [cls.issuer], extra_server=f'path = "/ocsp"\n\n[http_cache]\n{http_cache}')
            cls.addClassCleanup(r.close)
            out.append(r)
        return out

    def tearDown(self):
        for r in self.purging + self.unpurged:
            self.assertTrue(r.alive(), "ocsp-responder died:\n" + r.log_text())

    # --- helpers ---
    def request_path(self, name, digest="sha1", nonce=False):
        der = make_request_der(self.pki.ca_cert, [self.certs[name]["serial"]], digest=digest, nonce=nonce,
                               workdir=self.root)
        return "/ocsp/" + base64.b64encode(der).decode(), der

    def status_through(self, port, target):
        code, headers, body = get(port, target)
        self.assertEqual(code, 200, body)
        text = response_text(body, self.root)
        found = re.search(r"Cert Status: (\w+)", text)
        self.assertTrue(found, text)
        return found.group(1), headers

    def wait_for_status(self, port, target, wanted, since, within):
        """Polls through the cache until `target` answers `wanted`, at most `within` s after `since`."""
        while True:
            status, _ = self.status_through(port, target)
            if status == wanted:
                return
            elapsed = time.monotonic() - since
            self.assertLess(elapsed, within, f"{target}: still {status} after {elapsed:.2f} s")
            time.sleep(0.02)

    def revoke(self, name):
        self.index.ctl("revoke", self.certs[name]["serial"], "--issuer", str(self.pki.ca_cert), "--reason",
                       "keyCompromise")

    # --- tests ---
    def test_repeated_gets_are_cache_hits_also_percent_encoded(self):
        path, _ = self.request_path("hit", digest="sha256")
        self.assertIn("=", path, "a SHA-256 request is 95 octets: its base64 ends in '='")
        status, headers = self.status_through(self.front_port, path)
        self.assertEqual(status, "good")
        self.assertRegex(headers.get("cache-control", ""), r"max-age=\d+, public, no-transform, must-revalidate")
        self.assertNotIn("vary", headers)
        before = answers(self.purging)
        encoded = "/ocsp/" + urllib.parse.quote(path[len("/ocsp/"):], safe="")
        lower = re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), encoded)
        for target in [path] * 5 + [encoded, lower]:
            self.assertEqual(self.status_through(self.front_port, target)[0], "good")
        self.assertEqual(answers(self.purging), before, "a repeated GET reached a replica")

    def test_nonce_unknown_error_and_post_answers_are_not_cached(self):
        nonce_path, _ = self.request_path("uncacheable", nonce=True)
        unknown_der = make_request_der(self.pki.ca_cert, ["7fffffff"], workdir=self.root)
        unknown_path = "/ocsp/" + base64.b64encode(unknown_der).decode()
        malformed_path = "/ocsp/MAMCAQE="  # decodes, but is no OCSPRequest: malformedRequest
        _, post_der = self.request_path("uncacheable")
        for label, send in [
            ("nonce", lambda: get(self.front_port, nonce_path)),
            ("unknown", lambda: get(self.front_port, unknown_path)),
            ("malformed", lambda: get(self.front_port, malformed_path)),
            ("post", lambda: get(self.front_port, "/ocsp", "POST", post_der,
                                 {"Content-Type": "application/ocsp-request"})),
        ]:
            with self.subTest(label):
                before = answers(self.purging)
                for _ in range(3):
                    code, headers, _ = send()
                    self.assertEqual(code, 200)
                    self.assertEqual(headers.get("cache-control"), "no-cache")
                self.assertEqual(answers(self.purging), before + 3, f"a {label} answer was cached")

    def test_revocation_is_purged_within_a_second(self):
        sha1_path, _ = self.request_path("purged")
        sha256_path, _ = self.request_path("purged", digest="sha256")
        encoded = "/ocsp/" + urllib.parse.quote(sha256_path[len("/ocsp/"):], safe="")
        for target in (sha1_path, sha256_path, encoded):
            self.assertEqual(self.status_through(self.front_port, target)[0], "good")
        before = answers(self.purging)
        self.assertEqual(self.status_through(self.front_port, sha1_path)[0], "good")
        self.assertEqual(answers(self.purging), before, "not cached before the revocation")
        sent_before = sum(labelled_metric(r, "ocsp_purges_sent_total", self.purge_target) for r in self.purging)

        self.revoke("purged")
        revoked_at = time.monotonic()
        # The cached objects live for max-age (a day): only the purge can make these revoked in time.
        for target in (sha1_path, encoded, sha256_path):
            self.wait_for_status(self.front_port, target, "revoked", revoked_at, PURGE_DEADLINE)
        sent = sum(labelled_metric(r, "ocsp_purges_sent_total", self.purge_target) for r in self.purging)
        # Each replica purges both URLs (SHA-1, SHA-256) once it has seen the change.
        self.assertGreaterEqual(sent - sent_before, 2)

    def test_without_purge_revocation_appears_after_s_maxage(self):
        path, _ = self.request_path("unpurged")
        cached_at = time.monotonic()  # the cache stores the answer after this, so keeps it until +S_MAXAGE
        status, headers = self.status_through(self.unpurged_port, path)
        self.assertEqual(status, "good")
        self.assertIn(f"s-maxage={S_MAXAGE},", headers.get("cache-control", ""))
        before = answers(self.unpurged)
        self.revoke("unpurged")
        for r in self.unpurged:
            r.wait_for_index_changes()
        # The replicas answer revoked now, yet the cache still holds the good answer until s-maxage: this
        # is only asserted while well inside it, so that a slow machine cannot turn it into a false failure.
        status, _ = self.status_through(self.unpurged_port, path)
        if time.monotonic() - cached_at < S_MAXAGE * 0.75:
            self.assertEqual(status, "good", "revoked before s-maxage although nothing purged")
            self.assertEqual(answers(self.unpurged), before, "the cache re-fetched before s-maxage")
        self.wait_for_status(self.unpurged_port, path, "revoked", cached_at, S_MAXAGE + 3)
        self.assertGreaterEqual(time.monotonic() - cached_at, S_MAXAGE, "revoked before s-maxage")
        failed = sum(labelled_metric(r, "ocsp_purges_failed_total", self.dead_target) for r in self.unpurged)
        deadline = time.monotonic() + 10  # three attempts with backoff per URL, then counted
        while failed < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
            failed = sum(labelled_metric(r, "ocsp_purges_failed_total", self.dead_target) for r in self.unpurged)
        self.assertGreaterEqual(failed, 1, "the unreachable purge target was not tried")
        self.assertIn("purge target", "".join(r.log_text() for r in self.unpurged))


def start_replicas(cls, purge_target):
    cls.purge_target = purge_target
    cls.purging = cls.replicas("purging", f'[[http_cache.purge]]\nurl = "{purge_target}"')
    cls.unpurged = cls.replicas("unpurged", f's_maxage = "{S_MAXAGE}s"\npurge_timeout = "200ms"\n'
                                            f'[[http_cache.purge]]\nurl = "{cls.dead_target}"')


class NginxProxyCache(_CacheTests, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.build("ocspkit-it-nginx-cache-")
        start_replicas(cls, f"http://127.0.0.1:{cls.purge_port}")
        cls.cache = NginxCache(cls.root / "nginx", cls.front_port, [r.port for r in cls.purging], cls.purge_port)
        cls.cache.start()
        cls.addClassCleanup(cls.cache.stop)
        # Its own purge server goes unused: these replicas purge at a port where nothing listens.
        cls.unpurged_cache = NginxCache(cls.root / "nginx-unpurged", cls.unpurged_port,
                                        [r.port for r in cls.unpurged], cls.unused_purge_port)
        cls.unpurged_cache.start()
        cls.addClassCleanup(cls.unpurged_cache.stop)

    def tearDown(self):
        super().tearDown()
        # Debian 12's cache_purge crashes workers when misplaced (see the deploy example): never here.
        log = self.cache.error_log_text()
        self.assertNotRegex(log, r"exited on signal", log)


class VarnishCache(_CacheTests, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.build("ocspkit-it-varnish-")
        # Varnish takes PURGE on its client port (VCL ACL), so the purge target is the cache itself.
        start_replicas(cls, f"http://127.0.0.1:{cls.front_port}")
        cls.cache = Varnish(cls.root / "varnish", cls.front_port, [r.port for r in cls.purging])
        cls.cache.start()
        cls.addClassCleanup(cls.cache.stop)
        cls.unpurged_cache = Varnish(cls.root / "varnish-unpurged", cls.unpurged_port, [r.port for r in cls.unpurged])
        cls.unpurged_cache.start()
        cls.addClassCleanup(cls.unpurged_cache.stop)


if __name__ == "__main__":
    missing = [what for what, ok in (("nginx", have_nginx()), ("nginx cache_purge module", PURGE_MODULE.is_file()),
                                     ("varnishd", have_varnish())) if not ok]
    if missing:
        print("skipped: " + ", ".join(missing) + " not installed")
        sys.exit(SKIP)
    unittest.main(verbosity=2)
