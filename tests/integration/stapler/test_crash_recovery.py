"""`kill -9` of ocsp-stapler in the middle of a fetch: the TLS server keeps stapling from shared memory;
a restart with the responder down publishes the persisted response from state_dir and becomes ready.

The fetch is held open by tests/integration/lib/fake_upstream.py in `hang` mode (after it first
proxied the good response from our ocsp-responder). For the restart the shm file is removed too, as
after a reboot (it lives on tmpfs), so that a staple can only come from the persisted file.
"""
import subprocess
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib"))
from stapler_testlib import STAPLER, StaplerFixtures, handshake, metric_value  # noqa: E402


class CrashRecovery(StaplerFixtures, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.build_pki("Crash Recovery CA", ["www"])

    def tearDown(self):
        self.assert_responder_alive()

    def test_kill9_mid_refresh_then_restart_from_disk(self):
        fake = self.start_fake(target=self.responder.url, mode="proxy")
        www = self.certs["www"]
        stapler = self.start_stapler([{"name": "www", "chain": str(www["chain"]), "responder_url": fake.url,
                                       "timeout": "60s"}])
        server = self.start_server("www", stapler)
        hs = handshake(server.port, self.pki.ca_cert)
        self.assert_stapled(hs, "good", "before the crash")
        good_print = hs.fingerprint
        persisted = stapler.persisted("www")
        good_der = persisted.read_bytes()

        # A refresh that hangs in the upstream, then SIGKILL while it is in flight.
        fake.set_mode("hang")
        refresh = subprocess.Popen([STAPLER, "refresh", "--config", str(stapler.config), "www"],
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        self.addCleanup(lambda: (refresh.poll() is None and refresh.kill(), refresh.wait()))
        fake.wait_for_requests("hang", 1)
        stapler.kill9()
        out = refresh.communicate(timeout=10)[0].decode(errors="replace")
        self.assertNotEqual(refresh.returncode, 0, "refresh client of a killed daemon: " + out)

        # The server keeps stapling from shm while no daemon runs.
        for _ in range(2):
            hs = handshake(server.port, self.pki.ca_cert)
            self.assert_stapled(hs, "good", "with the daemon killed")
            self.assertEqual(hs.fingerprint, good_print)
        self.assertEqual(persisted.read_bytes(), good_der, "the persisted response changed")
        self.assertEqual(sorted(p.name for p in stapler.state_dir.iterdir()), ["www.der"],
                         "state_dir holds more than the one response")

        # Responder down, shm gone ("reboot"): restart publishes from disk.
        fake.close()
        server.close()
        stapler.shm_path.unlink()
        stapler.start()  # waits for the ready file
        rc, doc, r = stapler.status_json()
        self.assertEqual(rc, 0, r.stdout + r.stderr + stapler.log_text())
        self.assertIs(doc["ready"], True)
        cert = doc["certificates"][0]
        self.assertEqual((cert["status"], cert["action"]), ("good", "staple"), cert)

        server2 = self.start_server("www", stapler)
        hs = handshake(server2.port, self.pki.ca_cert)
        self.assert_stapled(hs, "good", "after the restart from disk")
        self.assertEqual(hs.fingerprint, good_print, "not the persisted response")

        # A fetch now fails (responder down), is counted, and leaves the persisted response alone.
        self.assertEqual(metric_value(stapler.metrics(), "ocsp_stapler_ready"), 1)
        rc, out = stapler.refresh("www")
        self.assertEqual(rc, 4, out)
        self.assertRegex(out, r"(?m)^www: failed connect_failed")
        self.assertGreaterEqual(metric_value(stapler.metrics(), "ocsp_stapler_fetch_total", certificate="www",
                                             result="connect_failed"), 1)
        self.assert_stapled(handshake(server2.port, self.pki.ca_cert), "good", "after a failed fetch")
        self.assertEqual(persisted.read_bytes(), good_der)
        self.assertTrue(stapler.alive())


if __name__ == "__main__":
    unittest.main(verbosity=2)
