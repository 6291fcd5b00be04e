"""A refresh that brings the very same response (a caching responder or CDN serving it until max-age)
must not rewrite nginx_file nor run [nginx] reload_command, which the daemon runs only after nginx_file
changed. Past a response's midpoint the daemon refetches every min_refresh_interval: reloading nginx each
time would be for nothing."""
import os
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib"))
from stapler_testlib import StaplerFixtures  # noqa: E402


class ReloadOnlyOnChange(StaplerFixtures, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.build_pki("Nginx Unchanged CA", ["same"])

    def test_identical_response_does_not_reload(self):
        runs = self.workdir("runs") / "runs.txt"
        staple = self.workdir("staples") / "same.der"
        stapler = self.start_stapler([{"name": "same", "chain": str(self.certs["same"]["chain"]),
                                       "nginx_file": str(staple)}],
                                     nginx={"reload_command": ["/bin/sh", "-c", f'date +%s.%N >> "{runs}"']})

        def reload_idle():
            # No reload_command waiting for its debounce or running: every one requested so far has run.
            return stapler.metric("ocsp_stapler_nginx_reload_pending", default=None) == 0

        # The start-up fetch wrote nginx_file: one reload.
        stapler.wait_for(lambda: reload_idle() and runs.exists() and len(runs.read_text().split()) == 1,
                         "the start-up reload_command")
        before = runs.read_text().split()
        inode = os.stat(staple).st_ino
        rc, out = stapler.refresh("same")  # ocsp-responder answers from its cache: the same bytes
        self.assertEqual(rc, 0, out)
        # `refresh` returns once the exports are done, so a rewrite would have requested its reload by now.
        self.assertEqual(os.stat(staple).st_ino, inode, "nginx_file rewritten with identical bytes")
        stapler.wait_for(reload_idle, "no reload_command pending")
        self.assertEqual(runs.read_text().split(), before, "reload_command ran although no file changed")


if __name__ == "__main__":
    unittest.main(verbosity=2)
