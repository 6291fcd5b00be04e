"""What ocsp-stapler publishes and how it asks, against tests/integration/lib/fake_upstream.py in `sign`
mode (issuer-signed answers whose status, thisUpdate and Cache-Control the test chooses) and our
ocsp-responder:

* a replayed older answer (a certificateHold from before the hold was lifted) never replaces a newer one:
  `refresh` says "stale: not published" and the log shows the replayed answer's own dates;
* a good answer never replaces a keyCompromise revocation (`contradiction`, alerted), nor an older one
  (`stale`);
* `nonce = true` sends a nonce and refuses an answer without it;
* `method = "post"`, `hash = "sha256"`, and GET falling back to POST past 255 bytes (RFC 5019);
* Cache-Control max-age earlier than the schedule makes the daemon refetch earlier.
"""
import sys
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib"))
from stapler_testlib import StaplerFixtures, handshake, metric_value  # noqa: E402


class PublishRules(StaplerFixtures, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.build_pki("Publish Rules CA", ["replay", "sticky", "nonce-ok", "nonce-bad", "post", "longurl", "maxage",
                                             "noslash", "hostname", "subpath", "delegated"])

    def tearDown(self):
        self.assert_responder_alive()

    def cert(self, name, url, **kw):
        return {"name": name, "chain": str(self.certs[name]["chain"]), "responder_url": url, **kw}

    def test_replayed_older_hold_does_not_switch_stapling_off(self):
        fake = self.start_fake(mode="sign", validity=3600)
        fake.set_status(self.certs["replay"]["cert"], "hold")
        stapler = self.start_stapler([self.cert("replay", fake.url)], stapler={"min_refresh_interval": "10m"})
        server = self.start_server("replay", stapler)
        held = stapler.cert_status("replay")
        self.assertEqual((held["status"], held["revocation_reason"]), ("revoked", "certificateHold"), held)
        self.assert_stapled(handshake(server.port, self.pki.ca_cert), "revoked", "on hold")
        replayed = stapler.persisted("replay").read_bytes()

        # The hold is lifted: a newer good answer replaces it.
        time.sleep(1.1)  # thisUpdate has one-second resolution: the good answer must be newer than the hold
        fake.set_status(self.certs["replay"]["cert"], "good")
        rc, out = stapler.refresh("replay")
        self.assertEqual((rc, out.strip()), (0, "replay: ok good"), out)
        good = stapler.cert_status("replay")

        # Someone replays the old hold answer (valid signature, nextUpdate still ahead): not published.
        fake.replay_body = replayed
        fake.set_mode("replay")
        rc, out = stapler.refresh("replay")
        self.assertEqual(rc, 4, out)
        self.assertRegex(out, rf"(?m)^replay: stale: not published \(fetched revoked since \S+ \(certificateHold\) "
                              rf"\(thisUpdate {held['this_update']}, nextUpdate {held['next_update']}\) is older than "
                              rf"the published good \(thisUpdate {good['this_update']}\)\)$")
        cert = stapler.cert_status("replay")
        self.assertEqual((cert["status"], cert["this_update"]), ("good", good["this_update"]), cert)
        self.assertGreaterEqual(stapler.metric("ocsp_stapler_fetch_total", certificate="replay", result="stale"), 1)
        # The log line names the replayed answer's own dates, not the published one's.
        self.assertIn("replay: not published (stale): fetched revoked since", stapler.log_text())
        self.assertIn(f"(thisUpdate {held['this_update']}, nextUpdate {held['next_update']}) is older",
                      stapler.log_text())
        self.assert_stapled(handshake(server.port, self.pki.ca_cert), "good", "after a replayed hold")

    def test_good_never_replaces_key_compromise(self):
        fake = self.start_fake(mode="sign", validity=3600)
        fake.set_status(self.certs["sticky"]["cert"], "revoked")  # keyCompromise
        stapler = self.start_stapler([self.cert("sticky", fake.url)], stapler={"min_refresh_interval": "10m"})
        server = self.start_server("sticky", stapler)
        revoked = stapler.cert_status("sticky")
        self.assertEqual((revoked["status"], revoked["revocation_reason"]), ("revoked", "keyCompromise"), revoked)

        # "good" from the same responder, newer than the revocation: it contradicts itself.
        time.sleep(1.1)  # thisUpdate has one-second resolution: the good answer must be newer than the revocation
        fake.set_status(self.certs["sticky"]["cert"], "good")
        rc, out = stapler.refresh("sticky")
        self.assertEqual(rc, 4, out)
        self.assertRegex(out, r"(?m)^sticky: contradiction: not published \(fetched good \(thisUpdate \S+, "
                              r"nextUpdate \S+\) contradicts the published revoked since \S+ \(keyCompromise\)")
        self.assertIn("sticky: the responder contradicts itself", stapler.log_text())
        self.assertEqual(stapler.metric("ocsp_stapler_fetch_total", certificate="sticky", result="contradiction"), 1)

        # "good" older than the revocation: merely stale.
        fake.backdate = 60
        rc, out = stapler.refresh("sticky")
        self.assertEqual(rc, 4, out)
        self.assertRegex(out, r"(?m)^sticky: stale: not published \(fetched good .* is older than the published revoked")

        cert = stapler.cert_status("sticky")
        self.assertEqual((cert["status"], cert["this_update"]), ("revoked", revoked["this_update"]), cert)
        self.assertTrue(cert["last_error"].startswith("stale: "), cert)
        self.assertEqual(cert["fetch_failures"], 2, cert)
        self.assert_stapled(handshake(server.port, self.pki.ca_cert), "revoked", "after good answers")

    def test_nonce(self):
        fake = self.start_fake(mode="sign")  # signs without echoing the nonce
        stapler = self.start_stapler([
            self.cert("nonce-ok", self.responder.url + "/", nonce=True),  # ocsp-responder echoes nonces
            self.cert("nonce-bad", fake.url, nonce=True),
        ], defaults={"timeout": "2s"})
        self.assertEqual(stapler.cert_status("nonce-ok")["status"], "good")
        rc, out = stapler.refresh("nonce-bad")
        self.assertEqual(rc, 4, out)
        self.assertRegex(out, r"(?m)^nonce-bad: failed nonce_mismatch\b", out)
        self.assertEqual(stapler.cert_status("nonce-bad")["status"], "none")
        self.assertGreaterEqual(metric_value(stapler.metrics(), "ocsp_stapler_fetch_total", certificate="nonce-bad",
                                             result="nonce_mismatch"), 1)
        rc, out = stapler.refresh("nonce-ok")
        self.assertEqual((rc, out.strip()), (0, "nonce-ok: ok good"), out)

    def test_request_method_and_hash(self):
        fake = self.start_fake(mode="sign")
        long_url = fake.url + "ocsp/" + "x" * 200 + "/"
        stapler = self.start_stapler([self.cert("post", fake.url, method="post", hash="sha256"),
                                      self.cert("longurl", long_url)])
        for name in ("post", "longurl"):
            self.assertEqual(stapler.cert_status(name)["status"], "good", stapler.log_text())
        seen = set(fake.log)
        self.assertIn(("sign", "POST", "sha256"), seen, fake.log)
        self.assertIn(("sign", "POST", "sha1"), seen, f"long URL did not fall back to POST: {fake.log}")
        self.assertNotIn("GET", {m for _, m, _ in fake.log}, fake.log)

        # The default (get, sha1) with a short URL is a GET.
        stapler.certificates[1]["responder_url"] = fake.url
        stapler.write_config()
        stapler.sighup()
        # The reloaded certificate starts from its persisted response: ask for a fetch.
        stapler.wait_for(lambda: stapler.refresh("longurl")[0] == 0 and ("sign", "GET", "sha1") in set(fake.log),
                         "a GET after SIGHUP", timeout=5)

    def test_responder_url_forms(self):
        fake = self.start_fake(mode="sign")
        port = self.responder_port
        stapler = self.start_stapler([self.cert("noslash", f"http://127.0.0.1:{port}"),  # AIA URLs often have no path
                                      self.cert("hostname", f"http://localhost:{port}/"),
                                      self.cert("subpath", fake.url + "ocsp")])
        for name in ("noslash", "hostname", "subpath"):
            cert = stapler.cert_status(name)
            self.assertEqual(cert["status"], "good", f"{name}: {cert}\n{stapler.log_text()}")
        self.assertTrue(fake.paths and all(p.startswith("/ocsp/") for p in fake.paths), fake.paths)

    def test_delegated_signer(self):
        """ocsp-responder signing with a delegated OCSP signer (id-kp-OCSPSigning, issued by the CA)."""
        from ocspkit_testlib import Responder
        signer, signer_key, _ = self.pki.issue("delegated-ocsp-signer", extensions="ocsp_signer")
        workdir = self.workdir("delegated-responder")
        responder = Responder(workdir, self.db, [{"name": "delegated", "ca": str(self.pki.ca_cert),
                                                  "signer_cert": str(signer), "signer_key": str(signer_key)}])
        self.addCleanup(responder.close)
        stapler = self.start_stapler([self.cert("delegated", responder.url + "/")])
        cert = stapler.cert_status("delegated")
        self.assertEqual(cert["status"], "good", f"{cert}\n{stapler.log_text()}")
        hs = handshake(self.start_server("delegated", stapler).port, self.pki.ca_cert)
        self.assert_stapled(hs, "good", "signed by a delegated responder")
        self.assertIn("delegated-ocsp-signer", hs.text, hs.summary())  # the signer's certificate is included

    def test_cache_control_max_age_brings_the_refresh_forward(self):
        fake = self.start_fake(mode="sign", validity=3600)  # midpoint: 30 minutes away
        fake.cache_control = "max-age=2, public"
        stapler = self.start_stapler([self.cert("maxage", fake.url)])
        first = fake.count("sign")
        stapler.wait_for(lambda: fake.count("sign") > first, "a refetch after max-age (2 s)", timeout=6)
        m = stapler.metrics()
        self.assertGreaterEqual(metric_value(m, "ocsp_stapler_fetch_total", certificate="maxage", result="ok"), 2,
                                stapler.metrics_text())


if __name__ == "__main__":
    unittest.main(verbosity=2)
