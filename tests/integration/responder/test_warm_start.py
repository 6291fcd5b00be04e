"""Warm start (server.warm_start_file): a restarted responder answers repeated requests from the answers
it wrote at its last stop (or periodic save), without signing; an answer whose certificate changed in the
index while the responder was down is left out and signed anew from the index; a damaged file means a
cold start, never a refusal to start."""
import http.client
import os
import signal
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib"))
from ocspkit_testlib import (Index, Pki, Responder, make_request_der, responder_issuer,  # noqa: E402
                             response_text)
from ops_lib import wait_for  # noqa: E402


class WarmStart(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="ocspkit-warm-")
        cls.root = Path(cls.tmp.name)
        cls.pki = Pki(cls.root, "Warm Start CA")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def setUp(self):
        # Each test its own certificates and index, so that revocations do not leak between tests.
        self.dir = Path(tempfile.mkdtemp(dir=self.root))
        self.serials = [self.pki.issue(f"warm-{self.dir.name}-{i}.example")[2] for i in range(3)]
        self.db = self.dir / "index.db"
        self.index = Index(self.db)
        self.index.add_pki(self.pki)
        self.requests = [make_request_der(self.pki.ca_cert, [s], workdir=self.dir) for s in self.serials]
        self.warm_file = self.dir / "warm-start.bin"

    def start(self, warm=True, extra=""):
        workdir = Path(tempfile.mkdtemp(dir=self.dir))
        server = (f'warm_start_file = "{self.warm_file}"\n' if warm else "") + extra
        r = Responder(workdir, self.db, [{"name": "warm", "ca": str(self.pki.ca_cert), "signer_key": str(self.pki.ca_key)}],
                      log_level="info", extra_server=server)
        self.addCleanup(r.close)
        return r

    def post(self, r, request):
        conn = http.client.HTTPConnection("127.0.0.1", r.port, timeout=5)
        conn.request("POST", "/", body=request, headers={"Content-Type": "application/ocsp-request"})
        body = conn.getresponse().read()
        conn.close()
        return body

    def stop(self, r):
        os.kill(r.proc.pid, signal.SIGTERM)
        self.assertEqual(r.proc.wait(timeout=10), 0, r.log_text())

    def test_restart_serves_saved_answers_and_a_revocation_made_while_down(self):
        first = self.start()
        before = [self.post(first, q) for q in self.requests]
        for body in before:
            self.assertIn("Cert Status: good", response_text(body, self.dir))
        self.assertEqual(first.metric("ocsp_signatures_total"), 3)
        self.stop(first)
        self.assertIn("warm start: 3 answers written", first.log_text())
        self.assertTrue(self.warm_file.exists())
        self.assertEqual(self.warm_file.stat().st_mode & 0o777, 0o600)

        # While the responder is down: one certificate revoked, one put on hold.
        self.index.ctl("revoke", self.serials[1], "--issuer", str(self.pki.ca_cert), "--reason", "keyCompromise")
        self.index.ctl("revoke", self.serials[2], "--issuer", str(self.pki.ca_cert), "--reason", "certificateHold")

        second = self.start()
        self.assertEqual(second.metric("ocsp_warm_start_answers_loaded"), 1, second.log_text())
        self.assertEqual(second.metric("ocsp_warm_start_answers_dropped"), 2)
        self.assertIn("2 status changed in the index", second.log_text())
        # The unchanged certificate: the very answer signed before the restart, from the cache, no signature.
        self.assertEqual(self.post(second, self.requests[0]), before[0])
        self.assertEqual(second.metric("ocsp_cache_hits_total"), 1)
        self.assertEqual(second.metric("ocsp_signatures_total"), 0)
        # The revoked and held ones: never the saved `good`, signed anew from the index.
        revoked = response_text(self.post(second, self.requests[1]), self.dir)
        self.assertIn("Cert Status: revoked", revoked)
        self.assertIn("Revocation Reason: keyCompromise", revoked)
        held = response_text(self.post(second, self.requests[2]), self.dir)
        self.assertIn("Cert Status: revoked", held)
        self.assertIn("Revocation Reason: certificateHold", held)
        self.assertEqual(second.metric("ocsp_signatures_total"), 2)

    def test_without_warm_start_the_first_request_after_a_restart_is_signed(self):
        first = self.start(warm=False)
        self.post(first, self.requests[0])
        self.stop(first)
        second = self.start(warm=False)
        self.post(second, self.requests[0])
        self.assertEqual(second.metric("ocsp_signatures_total"), 1)
        self.assertEqual(second.metric("ocsp_warm_start_answers_loaded"), 0)
        self.assertFalse(self.warm_file.exists())

    def test_periodic_save_lets_a_killed_responder_start_warm(self):
        first = self.start(extra='warm_start_interval = "1s"\n')
        body = self.post(first, self.requests[0])
        wait_for(lambda: "warm start: 1 answers written" in first.log_text(), 10, "a periodic save of the answer")
        self.assertGreater(first.metric("ocsp_warm_start_last_save_timestamp_seconds"), 0)
        os.kill(first.proc.pid, signal.SIGKILL)
        first.proc.wait(timeout=10)
        second = self.start()
        self.assertEqual(second.metric("ocsp_warm_start_answers_loaded"), 1, second.log_text())
        self.assertEqual(self.post(second, self.requests[0]), body)
        self.assertEqual(second.metric("ocsp_signatures_total"), 0)

    def test_damaged_file_means_a_cold_start(self):
        first = self.start()
        self.post(first, self.requests[0])
        self.stop(first)
        data = bytearray(self.warm_file.read_bytes())
        data[len(data) // 2] ^= 0xFF
        self.warm_file.write_bytes(bytes(data))
        second = self.start()
        self.assertIn(f"warm start: {self.warm_file} is unusable (checksum mismatch", second.log_text())
        self.assertEqual(second.metric("ocsp_warm_start_answers_loaded"), 0)
        self.assertIn("Cert Status: good", response_text(self.post(second, self.requests[0]), self.dir))
        self.assertEqual(second.metric("ocsp_signatures_total"), 1)

    def test_answers_of_another_signer_are_left_out(self):
        first = self.start()
        self.post(first, self.requests[0])
        self.stop(first)
        # The same CA, now answered by a delegated signer: the saved answer (signed by the CA key) is not
        # what this configuration would send.
        workdir = Path(tempfile.mkdtemp(dir=self.dir))
        issuer = responder_issuer(self.pki, "warm", delegated_signer=True, signer_cn=f"signer-{self.dir.name}")
        r = Responder(workdir, self.db, [issuer], log_level="info",
                      extra_server=f'warm_start_file = "{self.warm_file}"\n')
        self.addCleanup(r.close)
        self.assertEqual(r.metric("ocsp_warm_start_answers_loaded"), 0, r.log_text())
        self.assertIn("1 for another issuer or signer", r.log_text())


if __name__ == "__main__":
    unittest.main()
