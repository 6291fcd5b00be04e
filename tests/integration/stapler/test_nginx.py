"""nginx staples the file ocsp-stapler writes (`ssl_stapling on; ssl_stapling_file <nginx_file>;`, the
lines of deploy/nginx/ocsp-stapler.conf), and a new response reaches clients through the daemon's
[nginx] reload_command.
"""
import re
import sys
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib"))
from ocspkit_testlib import free_port  # noqa: E402
from stapler_testlib import StaplerFixtures, handshake, response_fingerprint, response_text  # noqa: E402
from tls_servers import NGINX, Nginx, have_nginx  # noqa: E402

SNIPPET = Path(__file__).resolve().parents[3] / "deploy" / "nginx" / "ocsp-stapler.conf"


def stapling_directives(staple_file):
    """The ssl_stapling lines of the deploy example, with the test's file."""
    lines = [line.strip() for line in SNIPPET.read_text().splitlines() if line.strip().startswith("ssl_stapling")]
    assert any(line.startswith("ssl_stapling_file") for line in lines), lines
    return "\n".join(re.sub(r"^(ssl_stapling_file)\s+\S+;", rf"\1 {staple_file};", line) for line in lines)


def settled(stapler, runs, timeout=10):
    """The lines of `runs` once the daemon has no reload_command waiting for its debounce or running."""
    stapler.wait_for(lambda: stapler.metric("ocsp_stapler_nginx_reload_pending", default=None) == 0,
                     "no reload_command pending", timeout)
    return runs.read_text().split() if runs.exists() else []


@unittest.skipUnless(have_nginx(), "nginx not installed")
class NginxStaplingFile(StaplerFixtures, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.build_pki("Nginx File CA", ["www", "one", "two", "three"])

    def tearDown(self):
        self.assert_responder_alive()

    def test_nginx_staples_the_daemons_file_and_reloads_on_change(self):
        www = self.certs["www"]
        staple_file = self.workdir("nginx-staples") / "www.der"
        nginx = Nginx(self.workdir("nginx"), free_port(), www["chain"], www["key"],
                      server_directives=stapling_directives(staple_file))
        reload_command = [NGINX, "-p", str(nginx.dir), "-c", str(nginx.conf), "-e", str(nginx.error_log),
                          "-s", "reload"]
        stapler = self.start_stapler([{"name": "www", "chain": str(www["chain"]), "nginx_file": str(staple_file)}],
                                     nginx={"reload_command": reload_command})
        self.assertTrue(staple_file.is_file(), stapler.log_text())
        self.assertEqual(staple_file.read_bytes(), stapler.persisted("www").read_bytes())

        self.addCleanup(nginx.stop)
        nginx.start()
        hs = handshake(nginx.port, self.pki.ca_cert, wait_close=False)
        self.assert_stapled(hs, "good", "by nginx on the first handshake\n" + nginx.logs())
        self.assertEqual(hs.fingerprint, response_fingerprint(response_text(staple_file)))

        # Revoked: the daemon rewrites the file and runs reload_command; nginx's new workers staple it.
        self.revoke("www")
        rc, out = stapler.refresh("www")
        self.assertEqual(rc, 0, out)
        self.assertIn("www: ok revoked", out)
        self.assertIn("Cert Status: revoked", response_text(staple_file))
        deadline = time.monotonic() + 10
        while True:
            hs = handshake(nginx.port, self.pki.ca_cert, wait_close=False)
            if hs.cert_status == "revoked" or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assert_stapled(hs, "revoked", "by nginx after reload_command\n" + nginx.error_log_text()[-3000:]
                            + "\n--- stapler ---\n" + stapler.log_text()[-3000:])
        self.assertEqual(hs.fingerprint, response_fingerprint(response_text(staple_file)))
        self.assertTrue(stapler.alive())

    def test_reload_command_is_debounced(self):
        """reload_command runs after nginx_file changes, at most once per second (no shell: argv as is)."""
        runs = self.workdir("runs") / "runs.txt"
        staples = self.workdir("staples")
        names = ("one", "two", "three")
        stapler = self.start_stapler(
            [{"name": n, "chain": str(self.certs[n]["chain"]), "nginx_file": str(staples / f"{n}.der")} for n in names],
            nginx={"reload_command": ["/bin/sh", "-c", f'date +%s.%N >> "{runs}"']})
        for n in names:
            self.assertEqual((staples / f"{n}.der").read_bytes(), stapler.persisted(n).read_bytes())
        start_runs = settled(stapler, runs)
        self.assertIn(len(start_runs), (1, 2), f"three files written at start: {start_runs}")

        self.revoke("one")
        self.revoke("two")
        rc, out = stapler.refresh()
        self.assertEqual(rc, 0, out)
        stapler.wait_for(lambda: len(runs.read_text().split()) > len(start_runs), "a reload after the change",
                         timeout=5)
        stamps = [float(x) for x in settled(stapler, runs)]
        self.assertLessEqual(len(stamps) - len(start_runs), 2, stamps)
        gaps = [b - a for a, b in zip(stamps, stamps[1:])]
        # Stamps are taken by the command, after fork and exec: allow for scheduling delays on a busy machine.
        self.assertTrue(all(g >= 0.8 for g in gaps), f"reloads closer than one second: {gaps}")


if __name__ == "__main__":
    unittest.main(verbosity=2)
