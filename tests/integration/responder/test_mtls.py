"""Mutual TLS with OCSP checks of client certificates against ocsp-responder, as operators run it:
Apache httpd (`SSLVerifyClient require` + `SSLOCSPEnable leaf`) and nginx (`ssl_verify_client on` +
`ssl_ocsp on`), each once with the responder configured on the server and once found through the client
certificate's AIA. A good client certificate gets the page; one revoked in the index (imported revoked
from index.txt, revoked with ocspctl before the server starts, or revoked while it runs) or unknown to
the index is refused, and the server's log says it was because of the OCSP answer.
"""
import re
import sys
import tempfile
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib"))
from ocspkit_testlib import (Index, Pki, Responder, free_port, ocsp_query, responder_issuer,  # noqa: E402
                             run)
from tls_servers import PAGE_BODY, Apache, Nginx, curl, have_apache, have_nginx, wait_for_log  # noqa: E402

CLIENTS = ["good", "revoked-in-index-txt", "revoked-with-ocspctl", "revoked-while-running"]


class _MutualTls:
    """Shared set-up and cases; subclasses say how to start their server and what its log says."""

    ca_name = None
    delegated_signer = False
    revoked_log = None   # regex the server logs when the OCSP answer is revoked
    unknown_log = None   # ... when it is unknown

    @classmethod
    def make_server(cls, workdir, port, responder_url):
        """responder_url None: the server takes the URL from the client certificate's AIA."""
        raise NotImplementedError

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="ocspkit-it-mtls-")
        cls.addClassCleanup(cls.tmp.cleanup)
        cls.root = Path(cls.tmp.name)
        responder_port = free_port()
        cls.responder_url = f"http://127.0.0.1:{responder_port}/"
        cls.pki = Pki(cls.root, cls.ca_name, key="ec", ocsp_url=cls.responder_url)
        cls.server_cert, cls.server_key, _ = cls.pki.issue("localhost", san="DNS:localhost")
        cls.clients = {}
        for name in CLIENTS:
            cert, key, serial = cls.pki.issue(f"{name}-client")
            cls.clients[name] = (cert, key, serial)
        cls.pki.revoke(cls.clients["revoked-in-index-txt"][0], "-crl_reason", "keyCompromise")
        issuer = responder_issuer(cls.pki, cls.ca_name.replace(" ", "-"), cls.delegated_signer, "mtls-ocsp-signer")

        cls.db = cls.root / "index.db"
        cls.index = Index(cls.db)
        cls.index.add_pki(cls.pki)
        cls.index.ctl("revoke", cls.clients["revoked-with-ocspctl"][2], "--issuer", str(cls.pki.ca_cert),
                      "--reason", "superseded")
        # Issued after the import: a certificate of a served CA that the index does not hold.
        cls.clients["unknown"] = cls.pki.issue("unknown-client")

        cls.responder = Responder(cls.root, cls.db, [issuer], port=responder_port)
        cls.addClassCleanup(cls.responder.close)
        cls.server = cls.make_server(cls.root / "configured", free_port(), cls.responder_url)
        cls.addClassCleanup(cls.server.stop)
        cls.server.start()
        cls.aia_server = cls.make_server(cls.root / "aia", free_port(), None)
        cls.addClassCleanup(cls.aia_server.stop)
        cls.aia_server.start()

    def tearDown(self):
        self.assertTrue(self.responder.alive(), "ocsp-responder died:\n" + self.responder.log_text())

    # helpers
    def answered(self):
        """The responder's per-status answer counters (ocsp_cert_status_total on /metrics)."""
        text = run(["curl", "-sS", "--max-time", "5", f"{self.responder.url}/metrics"]).stdout
        return {m[1]: int(m[2]) for m in re.finditer(r'^ocsp_cert_status_total\{cert_status="(\w+)"\} (\d+)$',
                                                      text, re.M)}

    def request(self, client, server=None):
        """curl with a client certificate; returns what the assert_* helpers need: the curl result, the
        server, its error log offset and the responder's counters before the request."""
        server = server or self.server
        offset = server.error_log_size()
        before = self.answered()
        extra = []
        if client is not None:
            cert, key, _ = self.clients[client]
            extra = ["--cert", cert, "--key", key]
        result = curl(server.port, self.pki.ca_cert, *extra)
        return result, server, offset, before

    def assert_asked_responder(self, before, status, server, offset):
        """The server did ask ocsp-responder about the client certificate and got `status`."""
        after = self.answered()
        self.assertGreater(after.get(status, 0), before.get(status, 0),
                           f"no '{status}' answer from the responder for this request:\n"
                           f"{server.error_log_since(offset)}\n{self.responder.log_text()}")

    def assert_page(self, outcome):
        (rc, code, body, err), server, offset, before = outcome
        self.assertEqual((rc, code), (0, "200"), f"{err}\n{body}\n{server.error_log_since(offset)}")
        self.assertEqual(body, PAGE_BODY)
        self.assert_asked_responder(before, "good", server, offset)

    def assert_refused(self, outcome, status):
        """Refused: a TLS failure (curl exit status), or nginx's HTTP 400 for a failed client verification;
        never a 200. The responder answered `status` meanwhile and the server's log names that verdict,
        so the client was not refused for another reason (responder unreachable, wrong CA, ...)."""
        (rc, code, body, err), server, offset, before = outcome
        self.assertNotEqual(code, "200", f"client was let in: {body}")
        self.assertNotIn(PAGE_BODY.strip(), body)
        if rc == 0:
            self.assertEqual(code, "400", body)
            self.assertIn("SSL certificate error", body)
        self.assert_asked_responder(before, status, server, offset)
        pattern = self.revoked_log if status == "revoked" else self.unknown_log
        self.assertRegex(wait_for_log(server, offset, pattern), pattern)

    def assert_responder_says(self, client, status):
        serial = self.clients[client][2]
        rc, out = ocsp_query(self.responder.url, self.pki.ca_cert, serials=[serial], ca_file=self.pki.ca_cert)
        self.assertIn(f"0x{serial}: {status}", out)

    # cases
    def test_good_client_gets_the_page(self):
        self.assert_page(self.request("good"))

    def test_client_imported_revoked_from_index_txt_is_refused(self):
        self.assert_refused(self.request("revoked-in-index-txt"), "revoked")

    def test_client_revoked_with_ocspctl_is_refused(self):
        self.assert_refused(self.request("revoked-with-ocspctl"), "revoked")

    def test_client_unknown_to_the_index_is_refused(self):
        self.assert_responder_says("unknown", "unknown")
        self.assert_refused(self.request("unknown"), "unknown")

    def test_no_client_certificate_is_refused(self):
        (rc, code, body, err), _, _, _ = self.request(None)
        self.assertNotEqual(code, "200", body)

    def test_revocation_while_running_refuses_the_next_handshake(self):
        self.assert_page(self.request("revoked-while-running"))
        self.index.ctl("revoke", self.clients["revoked-while-running"][2], "--issuer", str(self.pki.ca_cert),
                       "--reason", "keyCompromise")
        # Neither server caches client OCSP answers here (nginx: no ssl_ocsp_cache; httpd 2.4 has none);
        # the responder sees the change within change_poll (100 ms).
        deadline = time.monotonic() + 3
        while True:
            outcome = self.request("revoked-while-running")
            if outcome[0][1] != "200":
                break
            self.assertLess(time.monotonic(), deadline, "revoked client still let in after 3 s")
            time.sleep(0.1)
        self.assert_refused(outcome, "revoked")

    def test_responder_url_from_client_certificate_aia(self):
        self.assert_page(self.request("good", server=self.aia_server))
        self.assert_refused(self.request("revoked-with-ocspctl", server=self.aia_server), "revoked")
        self.assert_refused(self.request("unknown", server=self.aia_server), "unknown")


@unittest.skipUnless(have_apache(), "Apache httpd (apache2 with mod_ssl) not installed")
class ApacheMutualTls(_MutualTls, unittest.TestCase):
    ca_name = "Apache mTLS CA"
    delegated_signer = True
    revoked_log = r"Certificate Verification: Error \(23\): certificate revoked"
    unknown_log = r"OCSP validation completed, certificate status: unknown"

    @classmethod
    def make_server(cls, workdir, port, responder_url):
        responder = (f"    SSLOCSPDefaultResponder {responder_url}\n    SSLOCSPOverrideResponder on\n"
                     if responder_url else "")
        return Apache(workdir, port, cls.server_cert, cls.server_key, vhost_directives=f"""
    SSLCACertificateFile "{cls.pki.ca_cert}"
    SSLVerifyClient require
    SSLVerifyDepth 2
    SSLOCSPEnable leaf
{responder}    SSLOCSPResponderTimeout 5
""")


@unittest.skipUnless(have_nginx(), "nginx not installed")
class NginxMutualTls(_MutualTls, unittest.TestCase):
    ca_name = "Nginx mTLS CA"
    delegated_signer = False
    revoked_log = r"client SSL certificate verify error: certificate revoked"
    unknown_log = r"client SSL certificate verify error: certificate status unknown"

    @classmethod
    def make_server(cls, workdir, port, responder_url):
        responder = f"        ssl_ocsp_responder {responder_url};\n" if responder_url else ""
        return Nginx(workdir, port, cls.server_cert, cls.server_key, server_directives=f"""
        ssl_verify_client on;
        ssl_client_certificate {cls.pki.ca_cert};
        ssl_verify_depth 2;
        ssl_ocsp on;
{responder}""")


if __name__ == "__main__":
    unittest.main(verbosity=2)
