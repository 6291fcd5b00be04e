"""HAProxy staples the `<crt>.ocsp` file ocsp-stapler writes next to the certificate (`haproxy = true`),
and takes a new response through the runtime API (`set ssl ocsp-response`) without a reload.

The HAProxy configuration is deploy/haproxy/haproxy.cfg with the test's paths and port substituted.
"""
import os
import shutil
import signal
import subprocess
import sys
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib"))
from ocspkit_testlib import free_port, run  # noqa: E402
from stapler_testlib import StaplerFixtures, handshake, response_fingerprint, response_text  # noqa: E402
from tls_servers import port_open  # noqa: E402

HAPROXY = os.environ.get("OCSPKIT_HAPROXY") or shutil.which("haproxy") or "/usr/sbin/haproxy"
EXAMPLE = Path(__file__).resolve().parents[3] / "deploy" / "haproxy" / "haproxy.cfg"


def have_haproxy():
    return os.path.isfile(HAPROXY) and os.access(HAPROXY, os.X_OK)


def haproxy_config(crt, socket_path, port):
    text = EXAMPLE.read_text()
    for old, new in (("/run/haproxy/admin.sock", str(socket_path)), ("/etc/haproxy/certs/www.pem", str(crt)),
                     ("bind :443", f"bind 127.0.0.1:{port}")):
        assert old in text, f"{old} not in {EXAMPLE}"
        text = text.replace(old, new)
    return text


@unittest.skipUnless(have_haproxy(), "haproxy not installed")
class HaproxyOcspFile(StaplerFixtures, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.build_pki("HAProxy CA", ["www", "tcp"])

    def tearDown(self):
        self.assert_responder_alive()

    def start_haproxy(self, cfg, port, log):
        proc = subprocess.Popen([HAPROXY, "-db", "-f", str(cfg)], stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)

        def stop():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
        self.addCleanup(stop)
        deadline = time.monotonic() + 10
        while not port_open(port):
            self.assertIsNone(proc.poll(), "haproxy exited")
            self.assertLess(time.monotonic(), deadline, "haproxy did not listen")
            time.sleep(0.05)
        return proc

    def test_ocsp_file_is_loaded_and_runtime_api_updates_it(self):
        self.run_haproxy("www", tcp_socket=False)

    def test_runtime_api_over_tcp(self):
        self.run_haproxy("tcp", tcp_socket=True, negative_control=False)

    def run_haproxy(self, name, tcp_socket, negative_control=True):
        www = self.certs[name]
        d = self.workdir("haproxy")
        crt = d / "www.pem"  # leaf + issuer: the daemon's chain and HAProxy's crt
        crt.write_text(www["chain"].read_text())
        (d / "www.pem.key").write_text(www["key"].read_text())
        port = free_port()
        if tcp_socket:
            admin_port = free_port()
            admin, stats_socket = f"ipv4@127.0.0.1:{admin_port}", f"127.0.0.1:{admin_port}"
        else:
            admin = stats_socket = str(d / "admin.sock")
        cfg = d / "haproxy.cfg"
        cfg.write_text(haproxy_config(crt, admin, port))

        # HAProxy is not running yet: the push fails (logged), the file is written anyway.
        stapler = self.start_stapler([{"name": "www", "chain": str(crt), "haproxy": True}],
                                     haproxy={"stats_socket": stats_socket})
        ocsp_file = d / "www.pem.ocsp"
        self.assertTrue(ocsp_file.is_file(), stapler.log_text())
        self.assertEqual(ocsp_file.read_bytes(), stapler.persisted("www").read_bytes())

        check = run([HAPROXY, "-c", "-f", str(cfg)], check=False)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        self.assertNotIn("OCSP", check.stdout + check.stderr)
        self.assertNotIn("Warnings were found", check.stdout + check.stderr)
        if negative_control:
            self.check_haproxy_complains_about_bad_ocsp_files(d)

        log = open(d / "haproxy.log", "ab")
        self.addCleanup(log.close)
        self.start_haproxy(cfg, port, log)
        hs = handshake(port, self.pki.ca_cert, wait_close=False)
        self.assert_stapled(hs, "good", "by haproxy")
        self.assertEqual(hs.fingerprint, response_fingerprint(response_text(ocsp_file)))

        # Revoked: file rewritten and pushed over the stats socket; no reload.
        self.revoke(name)
        rc, out = stapler.refresh("www")
        self.assertEqual(rc, 0, out)
        self.assertIn("www: ok revoked", out)
        self.assertIn("Cert Status: revoked", response_text(ocsp_file))
        deadline = time.monotonic() + 5
        while True:
            hs = handshake(port, self.pki.ca_cert, wait_close=False)
            if hs.cert_status == "revoked" or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assert_stapled(hs, "revoked", "by haproxy after the runtime API push\n" + stapler.log_text()[-3000:])
        self.assertEqual(hs.fingerprint, response_fingerprint(response_text(ocsp_file)))

    def check_haproxy_complains_about_bad_ocsp_files(self, d):
        """Control: this HAProxy does complain about an .ocsp file it cannot use."""
        bad = self.workdir("haproxy-bad")
        for f in ("www.pem", "www.pem.key"):
            shutil.copy(d / f, bad / f)
        (bad / "www.pem.ocsp").write_bytes(b"\x30\x03\x0a\x01\x03")
        bad_cfg = bad / "haproxy.cfg"
        bad_cfg.write_text(haproxy_config(bad / "www.pem", bad / "admin.sock", free_port()))
        r = run([HAPROXY, "-c", "-f", str(bad_cfg)], check=False)
        self.assertIn("OCSP", r.stdout + r.stderr, "control: haproxy -c accepted a bad .ocsp silently")


if __name__ == "__main__":
    unittest.main(verbosity=2)
