"""The OCSP caching proxy ([proxy]) between real clients and the real responder: `openssl ocsp` asks
ocsp-stapler instead of ocsp-responder. A good certificate is good, a revoked one revoked (both verified
by openssl against the CA); once the responder is down, certificates seen before keep their answers, an
unseen one gets tryLater (never good); a restart with the responder still down answers from disk.

The web-server side (Apache SSLOCSPEnable, nginx ssl_ocsp through the proxy) is in test_proxy_mtls.py.
"""
import re
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib"))
from ocspkit_testlib import free_port, ocsp_query  # noqa: E402
from stapler_testlib import StaplerFixtures, metric_value  # noqa: E402


class Proxy(StaplerFixtures, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.build_pki("Proxy Clients CA", ["alice", "bob", "carol", "dave"])

    def start_proxy_only(self):
        self.proxy_port = free_port()
        return self.start_stapler([], proxy={"listen": [f"127.0.0.1:{self.proxy_port}"], "upstream_timeout": "1s",
                                             "negative_ttl": "1s"},
                                  proxy_issuers=[{"ca": str(self.pki.ca_cert), "responder_url": self.responder.url + "/"}])

    def ask(self, name, nonce=False):
        """`openssl ocsp` through the proxy; the status word it prints for the serial, or its error."""
        serial = self.certs[name]["serial"]
        rc, out = ocsp_query(f"http://127.0.0.1:{self.proxy_port}/", self.pki.ca_cert, serials=[serial],
                             ca_file=self.pki.ca_cert, extra=[] if nonce else ["-no_nonce"])
        m = re.search(rf"0x{serial}: (good|revoked|unknown)", out, re.IGNORECASE)
        if m:
            self.assertIn("Response verify OK", out, out)
            return m.group(1)
        m = re.search(r"Responder Error: (\w+)", out)
        return m.group(1) if m else out

    def test_answers_from_the_responder_then_from_the_cache_through_an_outage_and_a_restart(self):
        stapler = self.start_proxy_only()  # no [[certificate]]: a host that only checks client certificates
        self.revoke("bob")
        self.assertEqual(self.ask("alice"), "good")
        self.assertEqual(self.ask("bob"), "revoked")
        self.assertEqual(self.ask("alice"), "good")
        m = stapler.metrics()
        self.assertEqual(metric_value(m, "ocsp_stapler_proxy_requests_total", result="miss"), 2, stapler.metrics_text())
        self.assertEqual(metric_value(m, "ocsp_stapler_proxy_requests_total", result="hit"), 1)
        self.assertEqual(metric_value(m, "ocsp_stapler_proxy_entries"), 2)

        # With a nonce (openssl's default) the answer is the responder's own, every time.
        self.assertEqual(self.ask("alice", nonce=True), "good")
        self.assertEqual(metric_value(stapler.metrics(), "ocsp_stapler_proxy_requests_total", result="nonce_forwarded"), 1)

        self.responder.close()
        try:
            self.assertEqual(self.ask("alice"), "good", "seen before the outage")
            self.assertEqual(self.ask("bob"), "revoked", "seen before the outage")
            self.assertEqual(self.ask("carol"), "trylater", "never seen: no signed answer, so never good")
            self.assertEqual(self.ask("alice", nonce=True), "trylater")

            stapler.restart()
            self.assertEqual(self.ask("alice"), "good", "restored from the state folder")
            self.assertEqual(self.ask("bob"), "revoked")
            self.assertEqual(self.ask("dave"), "trylater")
            self.assertGreaterEqual(metric_value(stapler.metrics(), "ocsp_stapler_proxy_upstream_fetches_total",
                                                 result="connect_failed"), 1, stapler.metrics_text())
        finally:
            self.start_responder()
        self.assertTrue(stapler.alive(), stapler.log_text())

    def test_refresh_brings_a_revocation_and_status_lists_the_entries(self):
        stapler = self.start_proxy_only()
        self.assertEqual(self.ask("carol"), "good")
        self.revoke("carol")
        self.assertEqual(self.ask("carol"), "good", "cached until refreshed")
        rc, out = stapler.refresh()
        serial = self.certs["carol"]["serial"]
        self.assertEqual(rc, 0, out)
        self.assertRegex(out, rf"(?m)^proxy:\S+:{serial}: ok revoked$", out)
        self.assertEqual(self.ask("carol"), "revoked")
        rc, doc, r = stapler.status_json()
        self.assertEqual(rc, 0, r.stdout + r.stderr)
        entries = {tuple(e["serials"]): e for e in doc["proxy"]}
        self.assertEqual(entries[(serial,)]["status"], "revoked", doc)
        self.assertEqual(entries[(serial,)]["fetch_failures"], 0, doc)
        table = stapler.cli("status")
        self.assertEqual(table.returncode, 0, table.stdout + table.stderr)
        self.assertRegex(table.stdout, rf"proxy:\S+:{serial} +revoked", table.stdout)

    def test_certificates_of_other_issuers_are_unauthorized(self):
        self.start_proxy_only()
        from ocspkit_testlib import Pki
        other = Pki(self.root / "other-pki", "Other CA", key="ec")
        leaf, _, _ = other.issue("stranger")
        rc, out = ocsp_query(f"http://127.0.0.1:{self.proxy_port}/", other.ca_cert, certs=[leaf],
                             extra=["-no_nonce"])
        self.assertIn("Responder Error: unauthorized", out, out)

    def test_a_sighup_says_that_proxy_changes_wait_for_a_restart(self):
        stapler = self.start_proxy_only()
        self.assertEqual(self.ask("dave"), "good")
        stapler.sighup_and_wait()
        self.assertNotIn("[proxy] changed", stapler.log_text())
        stapler.proxy["negative_ttl"] = "5s"
        stapler.write_config()
        stapler.sighup_and_wait()
        self.assertIn("SIGHUP: [proxy] changed; it takes effect at the next restart", stapler.log_text())
        self.assertEqual(self.ask("dave"), "good", "the running proxy goes on")


if __name__ == "__main__":
    unittest.main(verbosity=2)
