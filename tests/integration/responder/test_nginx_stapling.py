"""OCSP stapling from ocsp-responder through real TLS servers, checked with openssl s_client and curl.

nginx fetches the staple from the OCSP URL in the server certificate's AIA (our responder), verifies it
(ssl_stapling_verify, here against a delegated OCSP signer) and staples only `good` answers: after a
revocation and a reload it logs `certificate status "revoked"` and sends no staple, so curl
--cert-status fails. Apache httpd staples whatever the responder said, so there the revoked answer
itself reaches the client. Both servers cache the staple, hence the reload/restart after revoking.
"""
import re
import sys
import tempfile
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib"))
from ocspkit_testlib import Index, Pki, Responder, free_port, ocsp_query, responder_issuer  # noqa: E402
from tls_servers import (PAGE_BODY, Apache, Nginx, curl, have_apache, have_nginx,  # noqa: E402
                         s_client_status, wait_for_log)

STAPLE_WAIT = 10.0  # seconds; a staple normally arrives on the second handshake


def staple_section(out):
    """The s_client lines about the stapled response, for assertion messages."""
    return "\n".join(line for line in out.splitlines()
                     if "OCSP" in line or "Status" in line or "Reason" in line or "Verify return" in line)


def wait_for_staple(port, ca_file):
    """Handshakes until the server staples a response (servers fetch it on a first handshake);
    returns the last s_client output."""
    deadline = time.monotonic() + STAPLE_WAIT
    while True:
        out = s_client_status(port, ca_file)
        if "OCSP Response Status:" in out or time.monotonic() > deadline:
            return out
        time.sleep(0.1)


class _StaplingPki:
    """One CA with server certificates whose AIA names a responder on a port picked in advance, an index
    imported from the CA's index.txt, and that responder."""

    @classmethod
    def build(cls, ca_name, server_names, delegated_signer):
        cls.tmp = tempfile.TemporaryDirectory(prefix="ocspkit-it-staple-")
        cls.addClassCleanup(cls.tmp.cleanup)
        cls.root = Path(cls.tmp.name)
        responder_port = free_port()
        cls.pki = Pki(cls.root, ca_name, key="ec", ocsp_url=f"http://127.0.0.1:{responder_port}/")
        cls.servers = {}
        for name in server_names:
            # Each server gets its own certificate (all for "localhost") so that revoking one leaves the others.
            cert, key, serial = cls.pki.issue(f"localhost-{name}", san="DNS:localhost")
            chain = cls.root / f"{name}-chain.pem"  # leaf + CA: curl --cert-status needs the issuer in the chain
            chain.write_text(Path(cert).read_text() + cls.pki.ca_cert.read_text())
            cls.servers[name] = {"cert": cert, "chain": chain, "key": key, "serial": serial}
        issuer = responder_issuer(cls.pki, ca_name.replace(" ", "-"), delegated_signer, "stapling-ocsp-signer")
        cls.db = cls.root / "index.db"
        cls.index = Index(cls.db)
        cls.index.add_pki(cls.pki)
        cls.responder = Responder(cls.root, cls.db, [issuer], port=responder_port)
        cls.addClassCleanup(cls.responder.close)

    def tearDown(self):
        self.assertTrue(self.responder.alive(), "ocsp-responder died:\n" + self.responder.log_text())

    def revoke(self, name, reason="keyCompromise"):
        serial = self.servers[name]["serial"]
        self.index.ctl("revoke", serial, "--issuer", str(self.pki.ca_cert), "--reason", reason)
        # The responder notices within change_poll (100 ms); wait until it answers revoked so that the
        # server's next fetch cannot get the old answer.
        deadline = time.monotonic() + 2
        while True:
            rc, out = ocsp_query(self.responder.url, self.pki.ca_cert, serials=[serial], ca_file=self.pki.ca_cert)
            if re.search(rf"0x{serial}: revoked", out):
                self.assertIn("Response verify OK", out)
                # openssl sends a nonce, and nonce answers bypass the pre-signed cache; the cached
                # no-nonce answers (what nginx fetches) are dropped by the change watcher: wait for it.
                self.responder.wait_for_index_changes()
                return
            self.assertLess(time.monotonic() - deadline, 0, "responder did not answer revoked within 2 s:\n" + out)
            time.sleep(0.05)

    def start(self, server):
        self.addCleanup(server.stop)
        return server.start()

    def assert_good_staple(self, server):
        out = wait_for_staple(server.port, self.pki.ca_cert)
        self.assertIn("OCSP Response Status: successful", out, staple_section(out) + "\n" + server.logs())
        self.assertIn("Cert Status: good", out, staple_section(out))
        self.assertIn("Verify return code: 0 (ok)", out, staple_section(out))
        # curl checks the staple: signature against --cacert, status, CertID of the server certificate.
        rc, code, body, err = curl(server.port, self.pki.ca_cert, "--cert-status")
        self.assertEqual((rc, code), (0, "200"), err)
        self.assertEqual(body, PAGE_BODY)


@unittest.skipUnless(have_nginx(), "nginx not installed")
class NginxStapling(_StaplingPki, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.build("Nginx Stapling CA", ["good", "revoked"], delegated_signer=True)

    def nginx(self, name):
        s = self.servers[name]
        return Nginx(self.root / f"nginx-{name}", free_port(), s["chain"], s["key"], server_directives=f"""
        ssl_stapling on;
        ssl_stapling_verify on;
        ssl_trusted_certificate {self.pki.ca_cert};
""")

    def test_good_certificate_is_stapled_and_verified(self):
        server = self.start(self.nginx("good"))
        self.assert_good_staple(server)
        log = server.error_log_text()
        self.assertNotRegex(log, r"OCSP.*(failed|error)|certificate status", log)

    def test_revocation_reaches_clients_after_reload(self):
        server = self.start(self.nginx("revoked"))
        self.assert_good_staple(server)

        self.revoke("revoked")
        offset = server.error_log_size()
        server.reload()  # nginx keeps a good staple for at least 5 minutes; a reload starts afresh
        deadline = time.monotonic() + STAPLE_WAIT
        while True:
            out = s_client_status(server.port, self.pki.ca_cert)
            log = server.error_log_since(offset)
            if 'certificate status "revoked" in the OCSP response' in log:
                break
            self.assertLess(time.monotonic(), deadline, "nginx did not fetch the revoked answer:\n" + log)
            time.sleep(0.1)
        # nginx never staples a non-good answer: the handshake goes on without a staple. The worker from
        # before the reload may still accept a connection or two while it drains (seen under load), and
        # it still holds the old good staple: give it a moment to go.
        deadline = time.monotonic() + STAPLE_WAIT
        while True:
            out = s_client_status(server.port, self.pki.ca_cert)
            if "OCSP response: no response sent" in out or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertIn("OCSP response: no response sent", out,
                      staple_section(out) + "\n" + server.error_log_since(offset))
        # ...which a client that requires one (curl --cert-status) refuses. A draining old worker may
        # still take this connection too (seen in CI), so it is asked until the deadline.
        deadline = time.monotonic() + STAPLE_WAIT
        while True:
            rc, code, body, err = curl(server.port, self.pki.ca_cert, "--cert-status")
            if rc != 0 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertNotEqual(rc, 0, f"curl accepted the connection: {code} {body}")
        self.assertNotEqual(code, "200")
        self.assertIn("OCSP", err)


@unittest.skipUnless(have_apache(), "Apache httpd (apache2 with mod_ssl) not installed")
class ApacheStapling(_StaplingPki, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.build("Apache Stapling CA", ["good", "revoked"], delegated_signer=False)

    def apache(self, name):
        s = self.servers[name]
        workdir = self.root / f"apache-{name}"
        return Apache(workdir, free_port(), s["chain"], s["key"],
                      server_directives=f'SSLStaplingCache "shmcb:{workdir}/run/stapling(65536)"',
                      vhost_directives="""
    SSLUseStapling on
    SSLStaplingResponderTimeout 5
    SSLStaplingReturnResponderErrors on
""")

    def test_good_certificate_is_stapled_and_verified(self):
        server = self.start(self.apache("good"))
        self.assert_good_staple(server)

    def test_revoked_answer_is_stapled_after_restart(self):
        server = self.start(self.apache("revoked"))
        self.assert_good_staple(server)

        self.revoke("revoked", reason="keyCompromise")
        server.restart()  # httpd caches the staple (SSLStaplingStandardCacheTimeout, 1 h)
        out = wait_for_staple(server.port, self.pki.ca_cert)
        self.assertIn("OCSP Response Status: successful", out, staple_section(out) + "\n" + server.logs())
        self.assertIn("Cert Status: revoked", out, staple_section(out))
        self.assertIn("Revocation Reason: keyCompromise", out, staple_section(out))
        rc, code, body, err = curl(server.port, self.pki.ca_cert, "--cert-status")
        self.assertNotEqual(rc, 0, f"curl accepted a revoked staple: {code} {body}")
        self.assertIn("revocation reason: keyCompromise", err)
        log = wait_for_log(server, 0, r"certificate status revoked")
        self.assertRegex(log, r"certificate status revoked \(reason: keyCompromise\) for serial number "
                              + self.servers["revoked"]["serial"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
