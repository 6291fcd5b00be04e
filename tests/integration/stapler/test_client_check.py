"""libocspstaple's client check (ocsp_client_check_install) in the example server's mTLS mode
(deploy/examples/staple_server.c --client-ca/--client-cache/--client-policy), against the real
ocsp-stapler ([proxy] with its client cache) and ocsp-responder, with `openssl s_client -cert` as the
client:

  * a client never seen is a miss: refused under hard, let in under soft (logged) and warn-only; the
    miss reaches the stapler, which fetches it, and the next handshake finds a good answer;
  * a client revoked before it was ever seen is refused with "certificate revoked" once fetched; one
    revoked later is refused after the stapler's refresh;
  * the stapler stops: known answers still decide (good in, revoked out); a new client is refused under
    hard and let in under soft, and the server counts the miss it could not hand over.
"""
import re
import subprocess
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib"))
from ocspkit_testlib import free_port  # noqa: E402
from stapler_testlib import StaplerFixtures, StapleServer  # noqa: E402

CLIENTS = ["alice", "bob", "carol", "dave", "mallory", "trudy"]


class ClientCheck(StaplerFixtures, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.build_pki("Client Check CA", ["localhost"] + CLIENTS)

    def setUp(self):
        self.stapler = self.start_stapler(
            [], proxy={"listen": [f"127.0.0.1:{free_port()}"], "upstream_timeout": "1s", "negative_ttl": "1s"},
            proxy_issuers=[{"ca": str(self.pki.ca_cert), "responder_url": self.responder.url + "/"}])
        # [proxy] client_cache defaults to "clients" beside [stapler] shm_path.
        self.client_cache = self.stapler.shm_path.parent / "clients"
        self.assertTrue(self.client_cache.exists(), self.stapler.log_text())

    def server(self, policy):
        c = self.certs["localhost"]
        s = StapleServer(self.workdir(f"server-{policy}"), c["chain"], c["key"], self.stapler.shm_path,
                         extra_args=["--client-ca", self.pki.ca_cert, "--client-cache", self.client_cache,
                                     "--client-policy", policy])
        self.addCleanup(s.close)
        return s

    def connect(self, server, client):
        """One mTLS handshake; returns (let in, the server's line about it, its counters)."""
        c = self.certs[client]
        out = subprocess.run(
            ["openssl", "s_client", "-connect", f"127.0.0.1:{server.port}", "-servername", "localhost",
             "-CAfile", str(self.pki.ca_cert), "-cert", str(c["cert"]), "-key", str(c["key"]), "-ign_eof"],
            stdin=subprocess.DEVNULL, capture_output=True, timeout=15)
        text = out.stdout.decode("utf-8", "replace") + out.stderr.decode("utf-8", "replace")
        said = server.read_output(until=r"counts [^\n]*\n")
        m = re.search(r"client (accepted [^\n]*|refused: [^\n]*)\ncounts ([^\n]*)\n", said)
        self.assertIsNotNone(m, f"no verdict from the server for {client}:\n{said}\n{server.log_text()}")
        counts = {k: int(v) for k, v in (kv.split("=") for kv in m.group(2).split())}
        return "hello" in text, m.group(1), counts

    def assert_let_in(self, server, client, why=""):
        let_in, said, counts = self.connect(server, client)
        self.assertTrue(let_in, f"{client} {why}: {said}\n{server.log_text()}\n{self.stapler.log_text()}")
        return counts

    def assert_refused(self, server, client, reason, why=""):
        let_in, said, counts = self.connect(server, client)
        self.assertFalse(let_in, f"{client} {why} was let in: {said}")
        self.assertEqual(said, f"refused: {reason}", f"{client} {why}")
        return counts

    def wait_published(self, n):
        self.stapler.wait_for(lambda: self.stapler.metric("ocsp_stapler_proxy_client_cache_entries") >= n,
                              f"{n} answers in the client cache")

    def test_misses_policies_revocations_and_the_stapler_stopping(self):
        self.revoke("mallory")
        hard = self.server("hard")

        # Never seen: a miss. Refused under hard; the stapler fetches it; then let in.
        counts = self.assert_refused(hard, "alice", "OCSP verification failed", "(first handshake)")
        self.assertEqual(counts["misses_sent"], 1, counts)
        self.wait_published(1)
        counts = self.assert_let_in(hard, "alice", "(second handshake)")
        self.assertEqual(counts["good"], 1, counts)
        self.assertEqual(self.stapler.metric("ocsp_stapler_proxy_client_misses_total", result="fetching"), 1)

        # Revoked before anyone asked: refused for want of an answer, then as revoked.
        self.assert_refused(hard, "mallory", "OCSP verification failed")
        self.wait_published(2)
        counts = self.assert_refused(hard, "mallory", "certificate revoked")
        self.assertEqual(counts["revoked"], 1, counts)

        # Revoked while its good answer is cached: refused once the stapler refreshed.
        self.revoke("alice")
        rc, out = self.stapler.refresh()
        self.assertEqual(rc, 0, out)
        self.assert_refused(hard, "alice", "certificate revoked", "(revoked, then refreshed)")

        # Soft and warn-only let a client in without an answer; soft logs it.
        soft = self.server("soft")
        self.assert_let_in(soft, "bob", "(soft, never seen)")
        self.assertRegex(soft.log_text(), r"client check: .*no OCSP answer.*accepted \(soft-fail\)")
        warn = self.server("warn-only")
        counts = self.assert_let_in(warn, "carol", "(warn-only, never seen)")
        self.assertEqual(counts["no_answer_accepted"], 1, counts)
        self.assertNotIn("client check:", warn.log_text())
        self.assert_refused(warn, "mallory", "certificate revoked", "(warn-only still refuses revoked)")
        self.wait_published(4)  # bob and carol's misses were fetched too
        self.assert_let_in(hard, "bob", "(fetched after soft let it in)")

        # The stapler stops: the cache file stays, and its answers still decide.
        self.stapler.stop()
        self.assert_let_in(hard, "bob", "with the stapler stopped")
        self.assert_refused(hard, "mallory", "certificate revoked", "with the stapler stopped")
        self.assert_refused(hard, "alice", "certificate revoked", "with the stapler stopped")
        counts = self.assert_refused(hard, "dave", "OCSP verification failed", "(new, stapler stopped)")
        self.assertGreaterEqual(counts["misses_unsent"], 1, counts)
        self.assert_let_in(soft, "trudy", "(new, soft, stapler stopped)")


if __name__ == "__main__":
    unittest.main(verbosity=2)
