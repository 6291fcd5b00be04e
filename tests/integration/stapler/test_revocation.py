"""A revocation in the index reaches the staple: at once with `ocsp-stapler refresh`, and by itself
within one scheduled refresh.

The responder signs with validity 60 s and backdate 55 s, so a response's window is thisUpdate ..
thisUpdate + 115 s and its midpoint (the daemon's refresh time, jitter ~0) lies about 2.5 s after it was
produced: from then on the daemon refetches every min_refresh_interval (1 s). The responder drops its
pre-signed answer for a certificate whose row changed, so the next scheduled fetch brings `revoked`.
"""
import sys
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib"))
from stapler_testlib import StaplerFixtures, handshake, metric_value  # noqa: E402


class Revocation(StaplerFixtures, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.build_pki("Revocation CA", ["manual", "scheduled"], validity="60s", backdate="55s")

    def tearDown(self):
        self.assert_responder_alive()

    def stapler_for(self, name, **stapler):
        settings = {"jitter": 0.01}
        settings.update(stapler)
        return self.start_stapler([{"name": name, "chain": str(self.certs[name]["chain"])}], stapler=settings)

    def test_refresh_command_publishes_revoked_at_once(self):
        # A long min_refresh_interval: only the refresh command can bring the revocation in time.
        stapler = self.stapler_for("manual", min_refresh_interval="10m")
        server = self.start_server("manual", stapler)
        self.assert_stapled(handshake(server.port, self.pki.ca_cert), "good")

        self.revoke("manual")
        rc, out = stapler.refresh("manual")
        self.assertEqual(rc, 0, out + stapler.log_text())
        self.assertRegex(out, r"(?m)^manual: ok revoked$", out)

        # Published before the command returned: status, staple and metrics agree right away.
        cert = stapler.cert_status("manual")
        self.assertEqual((cert["status"], cert["action"]), ("revoked", "staple"), cert)
        hs = handshake(server.port, self.pki.ca_cert)
        self.assert_stapled(hs, "revoked", "after refresh")
        self.assertIn("Revocation Reason: keyCompromise", hs.text, hs.summary())
        m = stapler.metrics()
        self.assertEqual(metric_value(m, "ocsp_stapler_staple_status", certificate="manual", status="revoked"), 1)
        self.assertEqual(metric_value(m, "ocsp_stapler_staple_status", certificate="manual", status="good"), 0)

        # Refresh of all certificates (no NAME) says the same.
        rc, out = stapler.refresh()
        self.assertEqual(rc, 0, out)
        self.assertRegex(out, r"(?m)^manual: ok revoked$", out)

    def test_scheduled_refresh_publishes_revoked(self):
        stapler = self.stapler_for("scheduled")
        server = self.start_server("scheduled", stapler)
        self.assert_stapled(handshake(server.port, self.pki.ca_cert), "good")
        first = stapler.cert_status("scheduled")
        self.assertEqual(first["status"], "good", first)

        self.revoke("scheduled")
        revoked_at = time.monotonic()
        # No refresh command: the schedule (midpoint ~2.5 s, then every 1 s) must bring it.
        stapler.wait_for(lambda: stapler.cert_status("scheduled")["status"] == "revoked",
                         "the scheduled refresh to publish revoked", timeout=12)
        self.assertLess(time.monotonic() - revoked_at, 12)
        hs = handshake(server.port, self.pki.ca_cert)
        self.assert_stapled(hs, "revoked", "after the scheduled refresh")
        self.assertGreaterEqual(
            metric_value(stapler.metrics(), "ocsp_stapler_fetch_total", certificate="scheduled", result="ok"), 2)


if __name__ == "__main__":
    unittest.main(verbosity=2)
