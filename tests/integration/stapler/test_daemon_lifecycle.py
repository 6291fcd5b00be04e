"""Running ocsp-stapler: not ready while start-up fetches hang (bounded by startup_timeout), SIGHUP adds
and removes certificates (also from a [[directory]]), a second instance on the same cache is refused
without disturbing the first, SIGTERM exits 0, and the clients report an unreachable daemon."""
import shutil
import subprocess
import sys
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib"))
from stapler_testlib import STAPLER, Stapler, StaplerFixtures, handshake, metric_value  # noqa: E402


class DaemonLifecycle(StaplerFixtures, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.build_pki("Lifecycle CA", ["slow", "kept", "removed", "fromdir"])

    def tearDown(self):
        self.assert_responder_alive()

    def cert(self, name, **kw):
        return {"name": name, "chain": str(self.certs[name]["chain"]), **kw}

    def test_not_ready_until_startup_timeout(self):
        fake = self.start_fake(mode="hang")
        stapler = Stapler(self.workdir("stapler"), [self.cert("slow", responder_url=fake.url, policy="hard")],
                          stapler={"startup_timeout": "2s"}, defaults={"timeout": "30s"}, start=False)
        self.addCleanup(stapler.close)
        started = time.monotonic()
        stapler.start(wait=False)
        fake.wait_for_requests("hang", 1)
        rc, doc, r = stapler.status_json()
        if time.monotonic() - started < 1.5:  # still inside startup_timeout
            self.assertEqual(rc, 3, r.stdout + r.stderr + stapler.log_text())
            self.assertIs(doc["ready"], False, doc)
            self.assertFalse(stapler.ready_file.exists())
            self.assertEqual(metric_value(stapler.metrics(), "ocsp_stapler_ready", default=0), 0)
        stapler.wait_ready(timeout=10)
        elapsed = time.monotonic() - started
        self.assertGreaterEqual(elapsed, 1.8, "ready before startup_timeout although the fetch hangs")
        # Generous: the bound is startup_timeout (2 s) plus start-up under a loaded CI machine.
        self.assertLess(elapsed, 10, "startup_timeout not honoured")
        rc, doc, r = stapler.status_json()
        self.assertEqual(rc, 0, r.stdout + r.stderr)
        self.assertIs(doc["ready"], True)
        self.assertEqual((doc["certificates"][0]["status"], doc["certificates"][0]["action"]),
                         ("none", "not_servable"), doc)
        self.assertEqual(metric_value(stapler.metrics(), "ocsp_stapler_ready"), 1)
        hs = handshake(self.start_server("slow", stapler).port, self.pki.ca_cert)
        self.assertFalse(hs.completed, hs.summary())
        # SIGTERM with a fetch still in flight: a clean exit.
        self.assertEqual(stapler.stop(), 0, stapler.log_text())

    def test_sighup_adds_and_removes_and_sigterm_exits_cleanly(self):
        stapler = self.start_stapler([self.cert("kept"), self.cert("removed")])
        kept = self.start_server("kept", stapler)
        removed = self.start_server("removed", stapler)
        fromdir = self.start_server("fromdir", stapler)
        self.assert_stapled(handshake(removed.port, self.pki.ca_cert), "good")
        self.assertTrue(handshake(fromdir.port, self.pki.ca_cert).no_staple)

        # "removed" leaves the configuration; a [[directory]] brings "fromdir" (its key file is not a chain).
        d = self.workdir("stapled")
        shutil.copy(self.certs["fromdir"]["chain"], d / "fromdir.pem")
        shutil.copy(self.certs["fromdir"]["key"], d / "fromdir.key")
        stapler.certificates = [self.cert("kept")]
        stapler.directories = [{"path": str(d)}]
        stapler.write_config()
        stapler.sighup()

        def names():
            rc, doc, _ = stapler.status_json()
            return doc and sorted((c["name"], c["status"]) for c in doc["certificates"])
        stapler.wait_for(lambda: names() == [("fromdir", "good"), ("kept", "good")], "the reloaded set", timeout=10)
        # `status` shows a fetched response as soon as it is accepted; the shm entry follows once it is
        # persisted (fsync on the pool), so the TLS server's view is waited for on its own.
        stapler.wait_for(lambda: handshake(fromdir.port, self.pki.ca_cert).stapled, "fromdir stapled", timeout=10)
        self.assert_stapled(handshake(fromdir.port, self.pki.ca_cert), "good", "added by SIGHUP")
        self.assert_stapled(handshake(kept.port, self.pki.ca_cert), "good", "kept across SIGHUP")
        hs = handshake(removed.port, self.pki.ca_cert)
        self.assertTrue(hs.completed and hs.no_staple, "a removed certificate is still stapled:\n" + hs.summary())
        m = stapler.metrics()
        self.assertEqual(metric_value(m, "ocsp_stapler_staple_status", certificate="fromdir", status="good"), 1)

        # A broken configuration on SIGHUP keeps the running one.
        stapler.config.write_text(stapler.config.read_text() + "\nbogus = 1\n")
        refusals = stapler.log_text().count("configuration not reloaded")
        stapler.sighup()
        stapler.wait_for(lambda: stapler.log_text().count("configuration not reloaded") > refusals,
                         "the refused reload to be logged")
        self.assertTrue(stapler.alive(), stapler.log_text())
        stapler.write_config()  # the status client reads the control socket's path from the file
        self.assertEqual(names(), [("fromdir", "good"), ("kept", "good")])
        self.assert_stapled(handshake(fromdir.port, self.pki.ca_cert), "good", "after a refused reload")

        # A second instance on the same cache is refused and leaves the first alone.
        second = subprocess.run([STAPLER, "--config", str(stapler.config)], capture_output=True, timeout=20)
        self.assertEqual(second.returncode, 1, second.stderr)
        self.assertIn(str(stapler.shm_path), second.stderr.decode(errors="replace"))
        rc, doc, r = stapler.status_json()
        self.assertEqual(rc, 0, "the first daemon stopped answering after a second start:\n" + r.stderr)
        self.assert_stapled(handshake(kept.port, self.pki.ca_cert), "good", "after a refused second instance")

        self.assertEqual(stapler.stop(), 0, stapler.log_text())
        self.assertTrue(stapler.persisted("kept").is_file())
        self.assertEqual([p.name for p in stapler.state_dir.iterdir() if p.suffix != ".der"], [])
        rc, doc, r = stapler.status_json()
        self.assertEqual(rc, 1, r.stdout + r.stderr)
        rc, out = stapler.refresh()
        self.assertEqual(rc, 1, out)
        # The servers keep their staples after the daemon stopped.
        self.assert_stapled(handshake(kept.port, self.pki.ca_cert), "good", "after SIGTERM")


if __name__ == "__main__":
    unittest.main(verbosity=2)
