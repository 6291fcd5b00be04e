"""Exports that cannot be written (issue 10, item 9; it was a blocker): an nginx_file whose folder was
missing passed --check-config, showed `good` in status with no error, was counted nowhere, and was never
written again once the folder came back (an unchanged response is not republished), so nginx refused to
start. Now:

- --check-config, and the daemon at start-up, refuse a missing or unwritable export folder (exit 2,
  naming the certificate, the file and the fix);
- a failed export shows in `status` (LAST_ERROR, last_error and exports[] in --json), in
  ocsp_stapler_export_failures_total{certificate,kind}, and makes `refresh` exit 4 (export_failed);
- `refresh` and SIGHUP rewrite a missing or outdated file although the response is unchanged;
- readiness waits for the exports of the start-up fetches (and of restored responses): an nginx started
  the moment the daemon is ready finds its ssl_stapling_file and staples it.
"""
import os
import shutil
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib"))
from ocspkit_testlib import free_port, run  # noqa: E402
from stapler_testlib import STAPLER, StaplerFixtures, handshake, response_fingerprint, response_text  # noqa: E402
from tls_servers import Nginx, have_nginx  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_nginx import stapling_directives  # noqa: E402


def export_failures(stapler, name, kind="nginx_file"):
    return stapler.metric("ocsp_stapler_export_failures_total", default=None, certificate=name, kind=kind)


class ExportFailures(StaplerFixtures, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.build_pki("Exports CA", ["www", "hup", "boot", "checked"])

    def tearDown(self):
        self.assert_responder_alive()

    def cert(self, name, **kw):
        return {"name": name, "chain": str(self.certs[name]["chain"]), **kw}

    def assert_export_failed(self, stapler, name, staple_file):
        """status (table and --json) and the metrics show the failed export of `name`."""
        r = stapler.cli("status")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        row = next((line for line in r.stdout.splitlines() if line.startswith(name + " ")), "")
        self.assertIn(f"nginx_file: cannot write: cannot create {staple_file}.tmp.", row, r.stdout)
        self.assertIn("No such file or directory", row, r.stdout)
        c = stapler.cert_status(name)
        self.assertIn("nginx_file: cannot write", c["last_error"] or "", c)
        self.assertEqual([(e["kind"], e["target"], e["state"]) for e in c["exports"]],
                         [("nginx_file", str(staple_file), "failed")], c)
        self.assertGreaterEqual(c["exports"][0]["failures"], 1, c)
        self.assertGreaterEqual(export_failures(stapler, name), 1, stapler.metrics_text())
        self.assertEqual(stapler.metric("ocsp_stapler_export_failing", certificate=name, kind="nginx_file"), 1)

    def assert_export_ok(self, stapler, name, staple_file):
        self.assertEqual(staple_file.read_bytes(), stapler.persisted(name).read_bytes())
        c = stapler.cert_status(name)
        self.assertIsNone(c["last_error"], c)
        self.assertEqual(c["exports"][0]["state"], "ok", c)
        self.assertEqual(stapler.metric("ocsp_stapler_export_failing", certificate=name, kind="nginx_file"), 0)

    def test_missing_folder_is_reported_counted_and_refresh_writes_the_file_when_it_is_back(self):
        folder = self.workdir("nginx-out")
        staple_file = folder / "www.der"
        stapler = self.start_stapler([self.cert("www", nginx_file=str(staple_file))])
        self.assert_export_ok(stapler, "www", staple_file)
        self.assertEqual(export_failures(stapler, "www"), 0, "the series exists from the start")

        # The folder disappears (a tmpfs after a reboot, a cleanup job), and the certificate is revoked:
        # the new response is persisted and in the shm cache, but nginx's file cannot be written.
        shutil.rmtree(folder)
        self.revoke("www")
        rc, out = stapler.refresh("www")
        self.assertEqual(rc, 4, out)
        self.assertIn("www: failed export_failed (nginx_file: cannot write: cannot create", out)
        self.assertIn("Cert Status: revoked", response_text(stapler.persisted("www")))
        self.assert_export_failed(stapler, "www", staple_file)
        self.assertEqual(stapler.cert_status("www")["status"], "revoked")

        # The folder is back. The responder answers the same (cached) revoked response, which is not
        # republished, yet `refresh` writes the missing file.
        folder.mkdir()
        rc, out = stapler.refresh("www")
        self.assertEqual(rc, 0, out + stapler.log_text()[-3000:])
        self.assertIn("www: ok revoked", out)
        self.assertIn("unchanged: not published again", stapler.log_text())
        self.assert_export_ok(stapler, "www", staple_file)
        self.assertIn("Cert Status: revoked", response_text(staple_file))
        self.assertTrue(stapler.alive())

        # And nginx, which would have refused to start without the file, starts and staples it.
        if have_nginx():
            www = self.certs["www"]
            nginx = Nginx(self.workdir("nginx-www"), free_port(), www["chain"], www["key"],
                          server_directives=stapling_directives(staple_file))
            self.addCleanup(nginx.stop)
            nginx.start()
            hs = handshake(nginx.port, self.pki.ca_cert, wait_close=False)
            self.assert_stapled(hs, "revoked", "by nginx from the rewritten file\n" + nginx.logs())

    def test_sighup_writes_the_file_when_the_folder_is_back(self):
        folder = self.workdir("nginx-hup")
        staple_file = folder / "hup.der"
        stapler = self.start_stapler([self.cert("hup", nginx_file=str(staple_file))])
        self.assert_export_ok(stapler, "hup", staple_file)

        shutil.rmtree(folder)
        rc, out = stapler.refresh("hup")  # the same good response: only the export fails
        self.assertEqual(rc, 4, out)
        self.assert_export_failed(stapler, "hup", staple_file)
        failures = export_failures(stapler, "hup")

        folder.mkdir()
        stapler.sighup()
        stapler.wait_for(lambda: staple_file.is_file(), f"SIGHUP to write {staple_file}")
        stapler.wait_for(lambda: stapler.cert_status("hup")["last_error"] is None, "the error to clear")
        self.assert_export_ok(stapler, "hup", staple_file)
        self.assertEqual(export_failures(stapler, "hup"), failures, "a success is not counted as a failure")

        # Outdated bytes behind the daemon's back are replaced on SIGHUP as well.
        staple_file.write_bytes(b"stale")
        stapler.sighup()
        stapler.wait_for(lambda: staple_file.read_bytes() == stapler.persisted("hup").read_bytes(),
                         "SIGHUP to replace the outdated file")

    @unittest.skipUnless(have_nginx(), "nginx not installed")
    def test_nginx_started_at_readiness_finds_and_staples_the_file(self):
        boot = self.certs["boot"]
        staple_file = self.workdir("nginx-boot") / "boot.der"
        nginx = Nginx(self.workdir("nginx"), free_port(), boot["chain"], boot["key"],
                      server_directives=stapling_directives(staple_file))
        self.addCleanup(nginx.stop)
        stapler = self.start_stapler([self.cert("boot", nginx_file=str(staple_file))])

        def nginx_staples(when):
            # Started the moment the daemon is ready, as After=ocsp-stapler.service does: nginx refuses
            # to start when its ssl_stapling_file is missing.
            nginx.start()
            hs = handshake(nginx.port, self.pki.ca_cert, wait_close=False)
            self.assert_stapled(hs, "good", f"by nginx started at readiness ({when})\n" + nginx.logs())
            self.assertEqual(hs.fingerprint, response_fingerprint(response_text(staple_file)))
            nginx.stop()

        nginx_staples("first start: fetched")
        # Stopped, and the file lost meanwhile: the next start restores the persisted response without
        # fetching, and writes the file before it says ready.
        stapler.stop()
        staple_file.unlink()
        stapler.start(wait=False)
        stapler.wait_ready()
        self.assertTrue(staple_file.is_file(), "ready before the export of the restored response was written\n"
                        + stapler.log_text()[-3000:])
        self.assertIn("boot: restored good response", stapler.log_text())
        nginx_staples("restart: restored")

    def test_check_config_and_start_up_refuse_a_missing_export_folder(self):
        missing = self.workdir("parent") / "nginx"
        stapler = self.start_stapler_unstarted([self.cert("checked", nginx_file=str(missing / "checked.der"))])
        r = run([STAPLER, "--config", str(stapler.config), "--check-config"], check=False)
        out = r.stdout + r.stderr
        self.assertEqual(r.returncode, 2, out)
        self.assertIn(f"{stapler.config}:", out)
        self.assertIn(f"key 'certificate[0].nginx_file': certificate 'checked': cannot write {missing}/checked.der: "
                      f"the folder {missing} does not exist; create it", out)
        self.assertIn(f"install -d -o ocsp-stapler -g ocsp-stapler -m 0755 {missing}", out)

        # The daemon itself: exit 2 with the same line, before opening anything.
        r = run([STAPLER, "--config", str(stapler.config)], check=False, timeout=30)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn(f"the folder {missing} does not exist", r.stderr)
        self.assertFalse(stapler.control_socket.exists())

        missing.mkdir()
        r = run([STAPLER, "--config", str(stapler.config), "--check-config"], check=False)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_check_config_refuses_a_folder_the_user_cannot_write(self):
        """As the user running the check: `nobody` when the tests run as root (root writes anywhere)."""
        area = Path(tempfile.mkdtemp(prefix="ocspkit-stapler-unwritable-"))
        self.addCleanup(shutil.rmtree, area, True)
        os.chmod(area, 0o755)
        chain = area / "checked.pem"
        shutil.copy(self.certs["checked"]["chain"], chain)
        locked = area / "locked"
        locked.mkdir(mode=0o755)
        haproxy_dir = area / "haproxy"
        haproxy_dir.mkdir(mode=0o755)
        haproxy_chain = haproxy_dir / "checked.pem"
        shutil.copy(chain, haproxy_chain)
        config = area / "stapler.toml"
        config.write_text(f'[stapler]\nstate_dir = "{area}/state"\nshm_path = "{area}/staples"\n'
                          f'control_socket = "{area}/control.sock"\n\n'
                          f'[[certificate]]\nchain = "{chain}"\nnginx_file = "{locked}/checked.der"\n\n'
                          f'[[certificate]]\nname = "ha"\nchain = "{haproxy_chain}"\nhaproxy = true\n')
        for f in (chain, haproxy_chain, config):
            os.chmod(f, 0o644)
        cmd = [STAPLER, "--config", str(config), "--check-config"]
        if os.geteuid() == 0:
            cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *cmd]
            user = "uid 65534"
        else:
            os.chmod(locked, 0o555)
            os.chmod(haproxy_dir, 0o555)
            self.addCleanup(os.chmod, locked, 0o755)
            self.addCleanup(os.chmod, haproxy_dir, 0o755)
            user = f"uid {os.geteuid()}"
        r = run(cmd, check=False)
        out = r.stdout + r.stderr
        self.assertEqual(r.returncode, 2, out)
        self.assertIn(f"{config}:8: key 'certificate[0].nginx_file': certificate 'checked': cannot write "
                      f"{locked}/checked.der: the folder {locked} is not writable by ", out)
        self.assertIn(f"{user})", out)
        self.assertIn(f"{config}:13: key 'certificate[1].haproxy': certificate 'ha': cannot write "
                      f"{haproxy_chain}.ocsp: the folder {haproxy_dir} is not writable by ", out)
        self.assertIn("ReadWritePaths=", out)

    def start_stapler_unstarted(self, certificates):
        from stapler_testlib import Stapler
        s = Stapler(self.workdir("stapler"), certificates, start=False)
        self.addCleanup(s.close)
        return s


if __name__ == "__main__":
    unittest.main(verbosity=2)
