"""ocsp-stapler fetches from the responder named in the certificate's AIA before it declares itself
ready, so the very first handshake of a TLS server started after that is stapled; several servers
read the one shared-memory cache at once.

The responder is our ocsp-responder; the TLS server is deploy/examples/staple_server.c (libocspstaple);
the client is `openssl s_client -status`. The stapled bytes are checked to be the persisted response,
which `openssl ocsp` verifies against the CA and Python's cryptography parses.
"""
import re
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib"))
from cryptography import x509  # noqa: E402
from cryptography.x509 import ocsp  # noqa: E402
from stapler_testlib import (StaplerFixtures, handshake, response_fingerprint, response_text,  # noqa: E402
                             verify_response)


class FirstHandshake(StaplerFixtures, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.build_pki("First Handshake CA", ["www", "shared"])

    def tearDown(self):
        self.assert_responder_alive()

    def test_first_handshake_after_ready_is_stapled_and_verifies(self):
        www = self.certs["www"]
        # No responder_url: the daemon takes the AIA OCSP URL; no issuer: the chain holds it.
        stapler = self.start_stapler([{"name": "www", "chain": str(www["chain"])}])
        self.assertEqual(stapler.ready_file.read_text(), "ready\n")

        server = self.start_server("www", stapler)
        hs = handshake(server.port, self.pki.ca_cert)  # the very first connection, no retry
        self.assert_stapled(hs, "good", "on the first handshake")

        # The staple is the persisted response, and that verifies against the CA for this leaf.
        der_path = stapler.persisted("www")
        self.assertTrue(der_path.is_file(), f"no {der_path}:\n{stapler.log_text()}")
        rc, out = verify_response(der_path, self.pki.ca_cert, www["cert"])
        self.assertEqual(rc, 0, out)
        self.assertIn("Response verify OK", out)
        self.assertRegex(out, rf"{re.escape(str(www['cert']))}: good")
        self.assertEqual(hs.fingerprint, response_fingerprint(response_text(der_path)), hs.summary())

        parsed = ocsp.load_der_ocsp_response(der_path.read_bytes())
        self.assertEqual(parsed.response_status, ocsp.OCSPResponseStatus.SUCCESSFUL)
        self.assertEqual(parsed.certificate_status, ocsp.OCSPCertStatus.GOOD)
        leaf = x509.load_pem_x509_certificate(www["cert"].read_bytes())
        self.assertEqual(parsed.serial_number, leaf.serial_number)
        self.assertIsNotNone(parsed.next_update)

        # status --json: ready, one good certificate whose times are the response's.
        rc, doc, r = stapler.status_json()
        self.assertEqual(rc, 0, r.stdout + r.stderr)
        self.assertIs(doc["ready"], True, doc)
        self.assertEqual(len(doc["certificates"]), 1, doc)
        cert = doc["certificates"][0]
        self.assertEqual(cert["name"], "www")
        self.assertEqual(cert["status"], "good", cert)
        self.assertEqual(cert["action"], "staple", cert)
        self.assertEqual(cert["policy"], "soft", cert)
        self.assertEqual(cert["fetch_failures"], 0, cert)
        self.assertIn(cert["last_error"], (None, ""), cert)
        for key in ("this_update", "next_update", "next_refresh"):
            self.assertRegex(cert[key] or "", r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$", f"{key}: {cert}")
        self.assertEqual(cert["this_update"][:19], parsed.this_update.strftime("%Y-%m-%dT%H:%M:%S"), cert)
        self.assertTrue(Path(cert["chain"]).samefile(www["chain"]), cert)

        # The table form: one row per certificate.
        r = stapler.cli("status")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"(?m)^www\s+good\s+staple\s", r.stdout)

        # /metrics
        m = stapler.metrics()
        from stapler_testlib import metric_value
        self.assertEqual(metric_value(m, "ocsp_stapler_ready"), 1.0, stapler.metrics_text())
        self.assertEqual(metric_value(m, "ocsp_stapler_staple_status", certificate="www", status="good"), 1.0)
        self.assertEqual(metric_value(m, "ocsp_stapler_staple_status", certificate="www", status="none"), 0.0)
        self.assertGreaterEqual(metric_value(m, "ocsp_stapler_fetch_total", certificate="www", result="ok"), 1.0)
        self.assertGreater(metric_value(m, "ocsp_stapler_staple_seconds_until_expiry", certificate="www"), 3000)

        # A second handshake gets the same bytes; the server is still fine.
        hs2 = handshake(server.port, self.pki.ca_cert)
        self.assert_stapled(hs2, "good", "on the second handshake")
        self.assertEqual(hs2.fingerprint, hs.fingerprint)
        self.assertTrue(stapler.alive(), stapler.log_text())

    def test_two_servers_share_the_cache(self):
        shared = self.certs["shared"]
        stapler = self.start_stapler([{"name": "shared", "chain": str(shared["chain"])}])
        a = self.start_server("shared", stapler)
        b = self.start_server("shared", stapler)
        prints = set()
        for i in range(3):  # interleaved: both map the file at the same time
            for server in (a, b):
                hs = handshake(server.port, self.pki.ca_cert)
                self.assert_stapled(hs, "good", f"server on port {server.port}, round {i}")
                prints.add(hs.fingerprint)
        self.assertEqual(len(prints), 1, prints)
        self.assertTrue(a.alive() and b.alive())


if __name__ == "__main__":
    unittest.main(verbosity=2)
