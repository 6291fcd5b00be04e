"""What an operator watches and scripts against (issue 10, items 7 and 10, stapler side):

- `ocsp-stapler --version` prints `ocsp-stapler <version>` and exits 0 without --config;
- GET /metrics passes `promtool check metrics` (HELP and TYPE on every metric) after fetches that
  succeeded and failed, and carries ocspkit_build_info;
- GET and HEAD /health: 503 with a reason while a hard-policy certificate cannot be served, 200 "ok" once
  it is gone;
- [log] format = "json": every line the daemon writes to stderr is one JSON object; the deprecated
  [stapler] log_level still works (with a warning), and setting both is refused;
- `status --json` follows the shared JSON conventions (documented in docs/stapler.md).
"""
import json
import re
import shutil
import subprocess
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib"))
from ocspkit_testlib import free_port, run  # noqa: E402
from stapler_testlib import STAPLER, StaplerFixtures  # noqa: E402

SOURCE = Path(__file__).resolve().parents[3]
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def project_version():
    m = re.search(r"project\(ocspkit VERSION (\S+)", (SOURCE / "CMakeLists.txt").read_text())
    return m.group(1)


class Operations(StaplerFixtures, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.build_pki("Operations CA", ["good", "strict", "revoked", "logged"])

    def tearDown(self):
        self.assert_responder_alive()

    def cert(self, name, **kw):
        return {"name": name, "chain": str(self.certs[name]["chain"]), **kw}

    def test_version(self):
        r = run([STAPLER, "--version"], check=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, rf"^ocsp-stapler {re.escape(project_version())}( \(.+\))?\n$")

    @unittest.skipUnless(Path(PROMTOOL).is_file(), "promtool (Debian package prometheus) not installed")
    def test_metrics_pass_promtool_and_health_follows_hard_certificates(self):
        dead = f"http://127.0.0.1:{free_port()}/"  # nothing listens: every fetch fails (connect_failed)
        nginx_dir = self.workdir("nginx")
        stapler = self.start_stapler([self.cert("good", nginx_file=str(nginx_dir / "good.der")),
                                      self.cert("strict", responder_url=dead, policy="hard")])
        rc, out = stapler.refresh()
        self.assertEqual(rc, 4, out)  # strict fails

        text = stapler.metrics_text()
        checked = subprocess.run([PROMTOOL, "check", "metrics"], input=text.encode(), capture_output=True, timeout=30)
        self.assertEqual(checked.returncode, 0, checked.stdout.decode() + checked.stderr.decode() + "\n" + text)
        m = stapler.metrics()
        self.assertEqual(stapler.metric("ocspkit_build_info", version=project_version()), 1, text)
        self.assertGreaterEqual(stapler.metric("ocsp_stapler_fetch_total", certificate="good", result="ok"), 2, text)
        self.assertGreaterEqual(stapler.metric("ocsp_stapler_fetch_total", certificate="strict",
                                               result="connect_failed"), 2, text)
        self.assertEqual(stapler.metric("ocsp_stapler_export_failures_total", default=None, certificate="good",
                                        kind="nginx_file"), 0, text)
        self.assertEqual(stapler.metric("ocsp_stapler_staple_status", certificate="strict", status="none"), 1)
        self.assertGreater(stapler.metric("ocsp_stapler_staple_seconds_until_expiry", certificate="good"), 3600)
        self.assertEqual(stapler.metric("ocsp_stapler_fetch_failures_in_a_row", certificate="good"), 0)
        self.assertGreaterEqual(stapler.metric("ocsp_stapler_fetch_failures_in_a_row", certificate="strict"), 2)
        self.assertEqual(stapler.metric("ocsp_stapler_certificates"), 2, m)

        status, headers, body = stapler.http("/health")
        self.assertEqual(status, 503, body)
        self.assertTrue(body.startswith("strict: hard policy and no usable response: TLS servers refuse its "
                                        "handshakes (last error: connect_failed"), body)
        self.assertNotIn("good", body)
        status, headers, body = stapler.http("/health", method="HEAD")
        self.assertEqual((status, body), (503, ""))

        # Without the hard certificate (SIGHUP), healthy.
        stapler.certificates = [self.cert("good", nginx_file=str(nginx_dir / "good.der"))]
        stapler.write_config()
        stapler.sighup()
        stapler.wait_for(lambda: stapler.http("/health")[0] == 200, "/health to turn 200")
        self.assertEqual(stapler.http("/health")[2], "ok\n")
        status, headers, body = stapler.http("/health", method="HEAD")
        self.assertEqual((status, body), (200, ""))
        self.assertEqual(headers.get("Content-Length"), "3")
        self.assertEqual(stapler.http("/nothing")[0], 404)

    def test_json_log_format_writes_one_object_per_line(self):
        staple_file = self.workdir("nginx-json") / "logged.der"
        stapler = self.start_stapler([self.cert("logged", nginx_file=str(staple_file))],
                                     log={"level": "debug", "format": "json"})
        rc, out = stapler.refresh()
        self.assertEqual(rc, 0, out)
        stapler.sighup()
        stapler.wait_for(lambda: "SIGHUP: configuration reloaded" in stapler.log_text(), "the reload")
        self.assertEqual(stapler.stop(), 0)
        lines = stapler.log_text().splitlines()
        self.assertGreater(len(lines), 5, lines)
        records = []
        for line in lines:
            try:
                records.append(json.loads(line))
            except ValueError:
                self.fail(f"not JSON: {line!r}")
        for r in records:
            self.assertEqual(set(r), {"time", "level", "logger", "message"}, r)
            self.assertRegex(r["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        messages = [r["message"] for r in records]
        self.assertTrue(any(m.startswith("ocsp-stapler ") and m.endswith(" starting") for m in messages), messages)
        self.assertTrue(any(m.startswith("logged: fetched good") for m in messages), messages)
        self.assertIn(f"logged: wrote {staple_file}", messages)  # debug: [log] level is honoured

    def test_deprecated_log_level_still_works_and_both_are_refused(self):
        # Stapler's default config sets [stapler] log_level (the old spelling).
        stapler = self.start_stapler([self.cert("logged")])
        self.assertIn("[stapler] log_level is deprecated; write it as [log] level", stapler.log_text())
        stapler.stop()
        stapler.config.write_text(stapler.config.read_text() + '\n[log]\nlevel = "info"\n')
        r = run([STAPLER, "--config", str(stapler.config), "--check-config"], check=False)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertRegex(r.stderr, rf"{re.escape(str(stapler.config))}:\d+: key 'log.level': also set as "
                                   r"stapler.log_level \(line \d+\), its deprecated spelling; remove that one")

    def test_status_json_follows_the_shared_conventions(self):
        nginx_dir = self.workdir("nginx-status")
        stapler = self.start_stapler([self.cert("good", nginx_file=str(nginx_dir / "good.der")),
                                      self.cert("revoked")], log={"level": "info"})
        self.revoke("revoked")
        rc, out = stapler.refresh("revoked")
        self.assertEqual(rc, 0, out)
        rc, doc, r = stapler.status_json()
        self.assertEqual(rc, 0, r.stderr)
        self.assertEqual(r.stdout.count("\n"), 1, "one JSON document on one line")
        self.assertEqual(set(doc), {"ready", "certificates", "proxy"})
        self.assertEqual(doc["proxy"], [], "no [proxy] configured: no proxy entries")
        self.assertIs(doc["ready"], True)
        by_name = {c["name"]: c for c in doc["certificates"]}
        keys = {"name", "chain", "serial", "status", "action", "policy", "must_staple", "this_update", "next_update",
                "produced_at", "revocation_time", "revocation_reason", "last_fetch", "next_refresh",
                "fetch_failures", "last_error", "exports"}
        for c in by_name.values():
            self.assertEqual(set(c), keys, c)
            for k in ("this_update", "next_update", "produced_at", "last_fetch", "next_refresh"):
                self.assertRegex(c[k], ISO_UTC, (k, c))
            # As `openssl x509 -serial` prints it, without "serial=".
            printed = run(["openssl", "x509", "-in", str(self.certs[c["name"]]["cert"]), "-noout", "-serial"]).stdout
            self.assertEqual(c["serial"], printed.strip().split("=", 1)[1], c)
            self.assertRegex(c["serial"], r"^[0-9A-F]+$")
        good, revoked = by_name["good"], by_name["revoked"]
        self.assertEqual((good["status"], good["action"], good["policy"], good["must_staple"]),
                         ("good", "staple", "soft", False))
        self.assertIsNone(good["revocation_time"])
        self.assertIsNone(good["revocation_reason"])
        self.assertIsNone(good["last_error"])
        self.assertEqual(good["exports"], [{"kind": "nginx_file", "target": str(nginx_dir / "good.der"),
                                            "state": "ok", "last_error": None,
                                            "written_at": good["exports"][0]["written_at"], "failures": 0}])
        self.assertRegex(good["exports"][0]["written_at"], ISO_UTC)
        self.assertEqual(revoked["status"], "revoked")
        self.assertRegex(revoked["revocation_time"], ISO_UTC)
        self.assertEqual(revoked["revocation_reason"], "keyCompromise")
        self.assertEqual(revoked["exports"], [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
