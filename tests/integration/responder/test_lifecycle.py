"""Operating ocsp-responder: --check-config errors name file, line and key; /health and /metrics;
SIGHUP reloads without dropping connections; SIGTERM drains and exits 0; disabled issuers."""
import http.client
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib"))
from ocspkit_testlib import (RESPONDER, Index, Pki, Responder, make_request_der, ocsp_query,  # noqa: E402
                             response_text, run)


class Lifecycle(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="ocspkit-life-")
        cls.root = Path(cls.tmp.name)
        cls.pki = Pki(cls.root, "Lifecycle CA")
        cls.leaf, _, cls.serial = cls.pki.issue("leaf.example")
        cls.db = cls.root / "index.db"
        cls.index = Index(cls.db)
        cls.index.add_pki(cls.pki)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def start(self, **kw):
        workdir = Path(tempfile.mkdtemp(dir=self.root))
        r = Responder(workdir, self.db, [{"name": "life", "ca": str(self.pki.ca_cert), "signer_key": str(self.pki.ca_key)}],
                      log_level="info", **kw)
        self.addCleanup(r.close)
        return r

    def check_config(self, text):
        cfg = self.root / "bad.toml"
        cfg.write_text(text)
        return run([RESPONDER, "--config", str(cfg), "--check-config"], check=False)

    def test_check_config_accepts_good_file(self):
        r = self.check_config(f'database = "{self.db}"\n[[issuer]]\nca = "{self.pki.ca_cert}"\nsigner_key = "{self.pki.ca_key}"\n')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("OK", r.stdout)

    def test_check_config_errors_name_file_line_and_key(self):
        base = f'database = "{self.db}"\n'
        issuer = f'[[issuer]]\nca = "{self.pki.ca_cert}"\nsigner_key = "{self.pki.ca_key}"\n'
        cases = [
            (base + "[server]\nio_threads = 0\n" + issuer, ":3: key 'server.io_threads'"),
            (base + "[server]\nlisten = [\"127.0.0.1\"]\n" + issuer, ":3: key 'server.listen'"),
            (base + "[server]\nbogus = 1\n" + issuer, ":3: key 'server.bogus': unknown key"),
            (base + issuer + 'nonce = "sometimes"\n', ":5: key 'issuer[0].nonce'"),
            (base + issuer + 'validity = "forever"\n', ":5: key 'issuer[0].validity'"),
            (base + "[server\n", ":2:"),
            (issuer, "key 'database'"),
            (base, "key 'issuer'"),
        ]
        for text, expected in cases:
            with self.subTest(expected=expected):
                r = self.check_config(text)
                self.assertEqual(r.returncode, 1, r.stdout)
                self.assertIn("bad.toml" + (expected if expected.startswith(":") else ""), r.stderr)
                self.assertIn(expected, r.stderr)

    def test_check_config_rejects_world_readable_key_and_unregistered_ca(self):
        key = self.root / "loose.key"
        key.write_bytes(Path(self.pki.ca_key).read_bytes())
        os.chmod(key, 0o644)
        r = self.check_config(f'database = "{self.db}"\n[[issuer]]\nca = "{self.pki.ca_cert}"\nsigner_key = "{key}"\n')
        self.assertEqual(r.returncode, 1)
        self.assertIn("loose.key", r.stderr)
        other = Pki(self.root, "Unregistered Lifecycle CA")
        r = self.check_config(f'database = "{self.db}"\n[[issuer]]\nca = "{other.ca_cert}"\nsigner_key = "{other.ca_key}"\n')
        self.assertEqual(r.returncode, 1)
        self.assertIn("not registered", r.stderr)

    def test_health_and_metrics(self):
        r = self.start()
        rc, out = ocsp_query(r.url, self.pki.ca_cert, serials=[self.serial], ca_file=self.pki.ca_cert)
        self.assertEqual(rc, 0, out)
        conn = http.client.HTTPConnection("127.0.0.1", r.port, timeout=5)
        conn.request("GET", "/health")
        resp = conn.getresponse()
        self.assertEqual(resp.status, 200)
        self.assertIn(b"database: ok", resp.read())
        conn.request("GET", "/metrics")
        resp = conn.getresponse()
        text = resp.read().decode()
        self.assertEqual(resp.status, 200)
        self.assertIn('ocsp_responses_total{status="successful"} 1', text)
        self.assertIn('ocsp_cert_status_total{cert_status="good"} 1', text)
        self.assertIn('ocsp_http_requests_total{method="POST",code="200"} 1', text)
        self.assertIn("ocsp_request_duration_seconds_bucket", text)
        self.assertIn('ocsp_signer_seconds_to_expiry{issuer="life"}', text)

    def test_sighup_reload_keeps_connections_and_applies_changes(self):
        r = self.start()
        conn = http.client.HTTPConnection("127.0.0.1", r.port, timeout=5)
        conn.request("GET", "/health")
        self.assertEqual(conn.getresponse().read()[:8], b"database")
        text = r.config.read_text().replace('name = "life"', 'name = "reloaded"')
        r.config.write_text(text)
        os.kill(r.proc.pid, signal.SIGHUP)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            conn.request("GET", "/metrics")  # the same keep-alive connection
            body = conn.getresponse().read().decode()
            if 'issuer="reloaded"' in body:
                break
            time.sleep(0.05)
        self.assertIn('issuer="reloaded"', body)
        # A broken file on SIGHUP keeps the running configuration.
        r.config.write_text(text + "\n[server\n")
        os.kill(r.proc.pid, signal.SIGHUP)
        time.sleep(0.3)
        self.assertTrue(r.alive())
        rc, out = ocsp_query(r.url, self.pki.ca_cert, serials=[self.serial], ca_file=self.pki.ca_cert)
        self.assertEqual(rc, 0, out)
        self.assertIn("reload failed", r.log_text())

    def test_cached_answer_follows_revocation_once_the_change_is_applied(self):
        # A second certificate, so that revoking it leaves the class's certificate alone.
        _, _, serial = self.pki.issue("revoked-later.example")
        self.index.ctl("import-index", "--issuer", str(self.pki.ca_cert), str(self.pki.index()))
        r = self.start()
        request = make_request_der(self.pki.ca_cert, [serial], workdir=r.workdir)

        def post():
            conn = http.client.HTTPConnection("127.0.0.1", r.port, timeout=5)
            conn.request("POST", "/", body=request, headers={"Content-Type": "application/ocsp-request"})
            body = conn.getresponse().read()
            conn.close()
            return response_text(body, r.workdir)

        self.assertIn("Cert Status: good", post())
        hits = r.metric("ocsp_cache_hits_total")
        self.assertIn("Cert Status: good", post())  # now from the pre-signed cache
        self.assertEqual(r.metric("ocsp_cache_hits_total"), hits + 1)
        self.index.ctl("revoke", serial, "--issuer", str(self.pki.ca_cert), "--reason", "keyCompromise")
        r.wait_for_index_changes()
        self.assertIn("Cert Status: revoked", post())

    def test_nonce_answers_read_the_index_once_and_follow_revocation(self):
        _, _, serial = self.pki.issue("nonce-revoked-later.example")
        self.index.ctl("import-index", "--issuer", str(self.pki.ca_cert), str(self.pki.index()))
        r = self.start()

        def post_nonce():
            # A fresh nonce each time: openssl makes the request, so no two are the same bytes.
            request = make_request_der(self.pki.ca_cert, [serial], nonce=True, workdir=Path(tempfile.mkdtemp(dir=r.workdir)))
            conn = http.client.HTTPConnection("127.0.0.1", r.port, timeout=5)
            conn.request("POST", "/", body=request, headers={"Content-Type": "application/ocsp-request"})
            body = conn.getresponse().read()
            conn.close()
            return response_text(body, r.workdir)

        lookups = r.metric("ocsp_index_lookups_total")
        signatures = r.metric("ocsp_signatures_total")
        self.assertIn("Cert Status: good", post_nonce())
        self.assertIn("Cert Status: good", post_nonce())
        self.assertIn("Cert Status: good", post_nonce())
        self.assertEqual(r.metric("ocsp_signatures_total"), signatures + 3)  # each nonce answer signed
        self.assertEqual(r.metric("ocsp_index_lookups_total"), lookups + 1)  # the status read once
        self.index.ctl("revoke", serial, "--issuer", str(self.pki.ca_cert), "--reason", "keyCompromise")
        r.wait_for_index_changes()
        text = post_nonce()
        self.assertIn("Cert Status: revoked", text)
        self.assertIn("Revocation Reason: keyCompromise", text)
        self.assertEqual(r.metric("ocsp_index_lookups_total"), lookups + 2)

    def test_sigterm_exits_cleanly(self):
        r = self.start()
        os.kill(r.proc.pid, signal.SIGTERM)
        self.assertEqual(r.proc.wait(timeout=10), 0)

    def test_disabled_issuer_becomes_unauthorized(self):
        r = self.start()
        rc, out = ocsp_query(r.url, self.pki.ca_cert, serials=[self.serial], ca_file=self.pki.ca_cert)
        self.assertIn(": good", out)
        self.index.ctl("issuer", "disable", str(self.pki.ca_cert))
        try:
            deadline = time.monotonic() + 2
            while time.monotonic() < deadline:
                rc, out = ocsp_query(r.url, self.pki.ca_cert, serials=[self.serial])
                if "unauthorized" in out:
                    break
                time.sleep(0.05)
            self.assertIn("unauthorized (6)", out)
        finally:
            self.index.ctl("issuer", "enable", str(self.pki.ca_cert))


if __name__ == "__main__":
    unittest.main(verbosity=2)
