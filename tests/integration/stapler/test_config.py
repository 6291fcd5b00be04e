"""`ocsp-stapler --config FILE --check-config`: 0 for a good file, 2 with "FILE:LINE: key 'KEY': why"
for a bad one (unknown key, bad duration, missing chain file, no responder URL, wrong issuer)."""
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib"))
from ocspkit_testlib import Pki, run  # noqa: E402
from stapler_testlib import STAPLER, issue_server_cert  # noqa: E402


class CheckConfig(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="ocspkit-stapler-config-")
        cls.addClassCleanup(cls.tmp.cleanup)
        cls.root = Path(cls.tmp.name)
        cls.pki = Pki(cls.root, "Config CA", ocsp_url="http://127.0.0.1:9/")
        cls.www = issue_server_cert(cls.pki, cls.root, "www")
        cls.no_aia_pki = Pki(cls.root, "No AIA CA")
        cls.no_aia = issue_server_cert(cls.no_aia_pki, cls.root, "noaia")
        cls.other_pki = Pki(cls.root, "Other CA")

    def base(self):
        """A good configuration as lines (line numbers matter to the assertions)."""
        return [
            "[stapler]",                                              # 1
            f'state_dir = "{self.root / "state"}"',                   # 2
            f'shm_path = "{self.root / "staples"}"',                  # 3
            f'control_socket = "{self.root / "control.sock"}"',       # 4
            'min_refresh_interval = "1s"',                            # 5
            "",                                                       # 6
            "[[certificate]]",                                        # 7
            'name = "www"',                                           # 8
            f'chain = "{self.www["chain"]}"',                         # 9
        ]

    def check(self, lines):
        cfg = Path(tempfile.mkdtemp(dir=self.root)) / "stapler.toml"
        cfg.write_text("\n".join(lines) + "\n")
        r = run([STAPLER, "--config", str(cfg), "--check-config"], check=False)
        return cfg, r.returncode, r.stdout + r.stderr

    def assert_error(self, lines, line_no, key, what=""):
        cfg, rc, out = self.check(lines)
        self.assertEqual(rc, 2, f"{what}: exit {rc}\n{out}")
        self.assertIn(f"{cfg}:{line_no}:", out, f"{what}: file:line missing\n{out}")
        self.assertIn(key, out, f"{what}: key missing\n{out}")

    def test_good_config_passes(self):
        cfg, rc, out = self.check(self.base())
        self.assertEqual(rc, 0, out)
        self.assertFalse((self.root / "control.sock").exists(), "--check-config started the daemon")

    def test_relative_chain_path_is_resolved_against_the_config_file(self):
        lines = self.base()
        cfg_dir = Path(tempfile.mkdtemp(dir=self.root))
        (cfg_dir / "www.pem").write_text(self.www["chain"].read_text())
        lines[8] = 'chain = "www.pem"'
        cfg = cfg_dir / "stapler.toml"
        cfg.write_text("\n".join(lines) + "\n")
        r = run([STAPLER, "--config", str(cfg), "--check-config"], check=False, cwd="/")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_unknown_key(self):
        self.assert_error(self.base()[:5] + ["bogus_setting = 1"] + self.base()[5:], 6, "bogus_setting",
                          "unknown key in [stapler]")
        self.assert_error(self.base() + ['colour = "blue"'], 10, "colour", "unknown key in [[certificate]]")

    def test_bad_duration(self):
        lines = self.base()
        lines[4] = 'min_refresh_interval = "ten seconds"'
        self.assert_error(lines, 5, "min_refresh_interval", "bad duration")
        self.assert_error(self.base() + ['timeout = "5 parsecs"'], 10, "timeout", "bad duration in [[certificate]]")

    def test_bad_enum(self):
        self.assert_error(self.base() + ['policy = "sometimes"'], 10, "policy", "bad policy")

    def test_missing_chain_file(self):
        lines = self.base()
        lines[8] = f'chain = "{self.root / "missing.pem"}"'
        self.assert_error(lines, 9, "chain", "missing chain file")

    def test_no_responder_url(self):
        lines = self.base()
        lines[8] = f'chain = "{self.no_aia["chain"]}"'
        cfg, rc, out = self.check(lines)
        self.assertEqual(rc, 2, out)
        self.assertIn(str(cfg), out)
        # With an override it is fine.
        cfg, rc, out = self.check(lines + ['responder_url = "http://127.0.0.1:9/"'])
        self.assertEqual(rc, 0, out)

    def test_issuer_that_did_not_sign(self):
        self.assert_error(self.base() + [f'issuer = "{self.other_pki.ca_cert}"'], 10, "issuer", "wrong issuer")

    def test_missing_config_file(self):
        r = run([STAPLER, "--config", str(self.root / "nope.toml"), "--check-config"], check=False)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("nope.toml", r.stdout + r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
