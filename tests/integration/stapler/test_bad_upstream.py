"""Every kind of bad answer from the upstream is refused without harm: nothing new is published, the
last good staple (persisted, in shm, served) stays, the failure is counted in
ocsp_stapler_fetch_total under its reason, and the daemon stays alive and answers its control socket.

The certificate's responder_url points at tests/integration/lib/fake_upstream.py, which first proxies
to our ocsp-responder (the good staple comes from the real responder) and is then switched, one mode at
a time, to a misbehaviour. A responder_url change by SIGHUP is checked on the way.
"""
import sys
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib"))
from stapler_testlib import StaplerFixtures, handshake, metric_value  # noqa: E402

# mode of the fake upstream -> the reason ocsp-stapler must report (spec: fetch errors, then
# validate_response's reject_reason names).
BAD_MODES = [
    ("garbage", "malformed"),
    ("impostor", "bad_signature"),        # signed by a CA with the issuer's name but another key
    ("wrong_ca", "signer_not_found"),     # signed by an unrelated CA, responderID by key hash
    ("not_delegated", "signer_not_authorized"),  # the issuer's certificate for a TLS server, not for OCSP
    ("wrong_certid", "no_matching_response"),
    ("expired", "expired"),
    ("future", "not_yet_valid"),          # thisUpdate 10 minutes ahead, max_skew 5 minutes
    ("no_next_update", "no_next_update"),
    ("trylater", "unsuccessful_status"),
    ("http500", "http_status"),
    ("content_type", "content_type"),
    ("huge", "too_large"),                # Content-Length 10 MB
    ("huge_stream", "too_large"),         # 10 MB without Content-Length: cut off at the limit
    ("reset", "protocol"),                # connection closed without an answer
    ("slow", "timeout"),                  # one byte every 0.5 s: the deadline covers the whole exchange
    ("hang", "timeout"),
]


class BadUpstream(StaplerFixtures, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.build_pki("Bad Upstream CA", ["www", "other"])

    def tearDown(self):
        self.assert_responder_alive()

    def test_bad_answers_never_replace_the_good_staple(self):
        other = self.certs["other"]
        fake = self.start_fake(target=self.responder.url, other_cert=other["cert"], mode="proxy",
                               leaf_signer=(other["cert"], other["key"]))
        www = self.certs["www"]
        stapler = self.start_stapler([{"name": "www", "chain": str(www["chain"]), "responder_url": fake.url}],
                                     defaults={"timeout": "1s"})
        self.assertGreaterEqual(fake.count("proxy"), 1, "the daemon did not fetch through the fake upstream")
        server = self.start_server("www", stapler)
        hs = handshake(server.port, self.pki.ca_cert)
        self.assert_stapled(hs, "good", "through the proxying fake")
        good_print = hs.fingerprint
        persisted = stapler.persisted("www")
        good_der = persisted.read_bytes()
        good_status = stapler.cert_status("www")
        self.assertEqual(good_status["status"], "good", good_status)

        for mode, reason in BAD_MODES:
            with self.subTest(mode=mode):
                fake.set_mode(mode)
                seen = fake.count(mode)
                before = metric_value(stapler.metrics(), "ocsp_stapler_fetch_total", certificate="www", result=reason)
                started = time.monotonic()
                rc, out = stapler.refresh("www")
                self.assertLess(time.monotonic() - started, 15, f"refresh took too long with {mode}")
                self.assertEqual(rc, 4, f"{mode}: {out}")
                self.assertRegex(out, rf"(?m)^www: failed {reason}\b", f"{mode}: {out}")
                self.assertGreater(fake.count(mode), seen, f"{mode}: the fake upstream was not asked")
                after = metric_value(stapler.metrics(), "ocsp_stapler_fetch_total", certificate="www", result=reason)
                self.assertGreaterEqual(after, before + 1, f"{mode}: {reason} not counted:\n{stapler.metrics_text()}")

                # Nothing new published: same persisted bytes, same status, same staple.
                self.assertEqual(persisted.read_bytes(), good_der, f"{mode}: the persisted response changed")
                cert = stapler.cert_status("www")
                self.assertEqual((cert["status"], cert["action"], cert["this_update"], cert["next_update"]),
                                 (good_status["status"], "staple", good_status["this_update"],
                                  good_status["next_update"]), f"{mode}: {cert}")
                self.assertGreaterEqual(cert["fetch_failures"], 1, cert)
                self.assertTrue(cert["last_error"], cert)
                hs = handshake(server.port, self.pki.ca_cert)
                self.assert_stapled(hs, "good", f"after {mode}")
                self.assertEqual(hs.fingerprint, good_print, f"{mode}: another response is stapled")
                self.assertTrue(stapler.alive(), f"ocsp-stapler died on {mode}:\n{stapler.log_text()}")
                self.assertEqual(fake.errors, [], fake.errors)
                fake.release_hangs()

        # Healthy again: the next fetch succeeds and the failure count resets.
        fake.set_mode("proxy")
        rc, out = stapler.refresh("www")
        self.assertEqual(rc, 0, out)
        self.assertRegex(out, r"(?m)^www: ok good$")
        self.assertEqual(stapler.cert_status("www")["fetch_failures"], 0)

        # SIGHUP with responder_url changed to the real responder: the fake is not asked any more.
        fake.set_mode("garbage")
        stapler.certificates[0]["responder_url"] = self.responder.url + "/"
        stapler.write_config()
        stapler.sighup_and_wait()
        self.assertIn("SIGHUP: configuration reloaded", stapler.log_text())
        seen = fake.count()
        rc, out = stapler.refresh("www")
        self.assertEqual(rc, 0, out + stapler.log_text())
        self.assertRegex(out, r"(?m)^www: ok good$")
        self.assertEqual(fake.count(), seen, "after SIGHUP the daemon still fetched from the old URL")
        self.assert_stapled(handshake(server.port, self.pki.ca_cert), "good", "after SIGHUP")
        self.assertTrue(stapler.alive())


if __name__ == "__main__":
    unittest.main(verbosity=2)
