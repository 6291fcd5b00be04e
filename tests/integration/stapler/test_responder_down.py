"""The responder goes away: soft-fail certificates keep their staple until nextUpdate and are then
served without one; hard-fail certificates, and Must-Staple ones even under a soft policy, are then
reported "not servable", which libocspstaple turns into a refused handshake (internal_error alert).

The upstream here is tests/integration/lib/fake_upstream.py in `sign` mode: a responder that signs
good answers with the CA's key and an 8 s validity, so that nextUpdate passes within the test (our
ocsp-responder's shortest validity is 60 s). "Down" is that server closed: connections are refused.
"""
import datetime
import sys
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib"))
from ocspkit_testlib import free_port  # noqa: E402
from stapler_testlib import StaplerFixtures, handshake, metric_value  # noqa: E402

VALIDITY = 8  # seconds


def parse_time(text):
    return datetime.datetime.strptime(text[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)


class ResponderDown(StaplerFixtures, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.build_pki("Responder Down CA", ["soft", "hard", "soft-start", "hard-start"],
                      must_staple=["muststaple", "muststaple-start"], responder=False)

    def certificate(self, name, url, policy=None):
        c = {"name": name, "chain": str(self.certs[name]["chain"]), "responder_url": url}
        if policy:
            c["policy"] = policy
        return c

    def test_staple_kept_until_next_update_then_policy_applies(self):
        fake = self.start_fake(mode="sign", validity=VALIDITY)
        names = ("soft", "hard", "muststaple")
        stapler = self.start_stapler(
            [self.certificate("soft", fake.url, "soft"), self.certificate("hard", fake.url, "hard"),
             self.certificate("muststaple", fake.url)],  # policy from [defaults]: soft
            defaults={"policy": "soft", "timeout": "1s"},
            # Published 8 s before nextUpdate: the staple comes within 6 s of it while the responder is down.
            stapler={"expiry_alert": ["6s"]})
        servers = {n: self.start_server(n, stapler) for n in names}
        for n in names:
            self.assert_stapled(handshake(servers[n].port, self.pki.ca_cert), "good", n)

        fake.close()  # the responder is down: connection refused from now on
        for n in names:
            rc, out = stapler.refresh(n)
            self.assertEqual(rc, 4, out)
            self.assertRegex(out, rf"(?m)^{n}: failed connect_failed", out)

        # Until nextUpdate the existing staple is still served, for every policy.
        next_updates = {}
        for n in names:
            cert = stapler.cert_status(n)
            self.assertEqual((cert["status"], cert["action"]), ("good", "staple"), cert)
            self.assertGreaterEqual(cert["fetch_failures"], 1, cert)
            self.assertTrue(cert["last_error"], cert)
            next_updates[n] = parse_time(cert["next_update"])
            now = datetime.datetime.now(datetime.timezone.utc)
            self.assertGreater(next_updates[n], now, cert)
            hs = handshake(servers[n].port, self.pki.ca_cert)
            self.assert_stapled(hs, "good", f"{n} with the responder down, before nextUpdate")
            self.assertGreaterEqual(
                metric_value(stapler.metrics(), "ocsp_stapler_fetch_total", certificate=n, result="connect_failed"), 1)

        # After nextUpdate: nothing is stapled; hard and Must-Staple refuse the handshake.
        wait = (max(next_updates.values()) - datetime.datetime.now(datetime.timezone.utc)).total_seconds() + 1.5
        self.assertLess(wait, VALIDITY + 2)
        time.sleep(max(wait, 0))  # the wall clock itself must pass nextUpdate: no condition to wait on

        hs = handshake(servers["soft"].port, self.pki.ca_cert)
        self.assertTrue(hs.completed, "soft: handshake failed after expiry:\n" + hs.summary())
        self.assertFalse(hs.stapled, "soft: an expired response was stapled:\n" + hs.summary())
        self.assertTrue(hs.no_staple, hs.summary())
        for n in ("hard", "muststaple"):
            hs = handshake(servers[n].port, self.pki.ca_cert)
            self.assertFalse(hs.completed, f"{n}: handshake completed after expiry:\n{hs.summary()}")
            self.assertFalse(hs.stapled, hs.summary())
            self.assertRegex(hs.text, r"alert internal error|SSL alert number 80", hs.summary())
            self.assertTrue(servers[n].alive())

        expected = {"soft": "no_staple", "hard": "not_servable", "muststaple": "not_servable"}
        stapler.wait_for(lambda: all(stapler.cert_status(n)["action"] == a for n, a in expected.items()),
                         "status to show the expired staples' actions", timeout=5)
        m = stapler.metrics()
        for n in names:
            cert = stapler.cert_status(n)
            self.assertEqual(cert["status"], "none", cert)
            self.assertEqual(metric_value(m, "ocsp_stapler_staple_status", certificate=n, status="none"), 1,
                             stapler.metrics_text())
            self.assertEqual(metric_value(m, "ocsp_stapler_staple_status", certificate=n, status="good"), 0)
            self.assertLessEqual(metric_value(m, "ocsp_stapler_staple_seconds_until_expiry", certificate=n), 0)
            self.assertGreaterEqual(metric_value(m, "ocsp_stapler_expiry_alerts_total", certificate=n), 1,
                                    stapler.metrics_text())
        self.assertTrue(stapler.alive(), stapler.log_text())

    def test_start_with_responder_down_and_nothing_persisted(self):
        dead = f"http://127.0.0.1:{free_port()}/"  # nothing listens there
        stapler = self.start_stapler(
            [self.certificate("soft-start", dead), self.certificate("hard-start", dead, "hard"),
             self.certificate("muststaple-start", dead)],
            defaults={"timeout": "1s"})
        # Ready anyway (start-up fetches failed fast), and readers know what to do.
        rc, doc, r = stapler.status_json()
        self.assertEqual(rc, 0, r.stdout + r.stderr)
        self.assertIs(doc["ready"], True)
        actions = {c["name"]: (c["status"], c["action"]) for c in doc["certificates"]}
        self.assertEqual(actions, {"soft-start": ("none", "no_staple"), "hard-start": ("none", "not_servable"),
                                   "muststaple-start": ("none", "not_servable")}, doc)
        self.assertEqual(metric_value(stapler.metrics(), "ocsp_stapler_ready"), 1)

        hs = handshake(self.start_server("soft-start", stapler).port, self.pki.ca_cert)
        self.assertTrue(hs.completed and hs.no_staple, hs.summary())
        for n in ("hard-start", "muststaple-start"):
            hs = handshake(self.start_server(n, stapler).port, self.pki.ca_cert)
            self.assertFalse(hs.completed, f"{n}: handshake completed without a staple:\n{hs.summary()}")
            self.assertRegex(hs.text, r"alert internal error|SSL alert number 80", hs.summary())


if __name__ == "__main__":
    unittest.main(verbosity=2)
