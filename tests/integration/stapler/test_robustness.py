"""ocsp-stapler facing bad local state and bad neighbours: corrupt, foreign and expired persisted
responses at start, `unknown` answers under soft and hard policy, responses larger than a shm slot,
unusable files in a [[directory]], idle and garbage clients on the control socket and the metrics port,
and parallel refresh commands."""
import datetime
import shutil
import socket
import sys
import threading
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib"))
from stapler_testlib import StaplerFixtures, handshake, issue_server_cert, metric_value  # noqa: E402


class Robustness(StaplerFixtures, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.build_pki("Robustness CA", ["corrupt", "foreign", "expiring", "small", "dir-good", "busy"])
        # Issued after the index import: the responder does not know them and answers "unknown".
        cls.certs["unknown-soft"] = issue_server_cert(cls.pki, cls.root, "unknown-soft")
        cls.certs["unknown-hard"] = issue_server_cert(cls.pki, cls.root, "unknown-hard")

    def tearDown(self):
        self.assert_responder_alive()

    def cert(self, name, **kw):
        return {"name": name, "chain": str(self.certs[name]["chain"]), **kw}

    def test_corrupt_and_foreign_persisted_files_are_replaced(self):
        stapler = self.start_stapler([self.cert("corrupt"), self.cert("foreign")])
        stapler.stop()
        stapler.persisted("corrupt").write_bytes(b"\x30\x82\x01\x00 not an OCSP response")
        # A valid, issuer-signed response, but for the other certificate.
        stapler.persisted("foreign").write_bytes(self._response_for_other())
        stapler.shm_path.unlink()
        stapler.start()
        for name in ("corrupt", "foreign"):
            cert = stapler.cert_status(name)
            self.assertEqual(cert["status"], "good", cert)
            server = self.start_server(name, stapler)
            self.assert_stapled(handshake(server.port, self.pki.ca_cert), "good", f"{name} after restart")
        self.assertNotIn(b"not an OCSP response", stapler.persisted("corrupt").read_bytes())
        self.assertNotEqual(stapler.persisted("foreign").read_bytes(), self.other_der)

    def _response_for_other(self):
        from fake_upstream import build_response, load_cert, load_key
        self.other_der = build_response(load_cert(self.certs["corrupt"]["cert"]), load_cert(self.pki.ca_cert),
                                        load_cert(self.pki.ca_cert), load_key(self.pki.ca_key))
        return self.other_der

    def test_expired_persisted_response_is_not_published(self):
        fake = self.start_fake(mode="sign", validity=3)
        stapler = self.start_stapler([self.cert("expiring", responder_url=fake.url)])
        self.assertEqual(stapler.cert_status("expiring")["status"], "good")
        stapler.stop()
        fake.close()
        next_update = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=3)
        # The wall clock itself must pass nextUpdate (one-second resolution): no condition to wait on.
        time.sleep(max(0.0, (next_update - datetime.datetime.now(datetime.timezone.utc)).total_seconds()) + 1.2)
        stapler.shm_path.unlink()
        stapler.start()
        cert = stapler.cert_status("expiring")
        self.assertEqual((cert["status"], cert["action"]), ("none", "no_staple"), cert)
        hs = handshake(self.start_server("expiring", stapler).port, self.pki.ca_cert)
        self.assertTrue(hs.completed and hs.no_staple, hs.summary())

    def test_unknown_answers(self):
        stapler = self.start_stapler([self.cert("unknown-soft"), self.cert("unknown-hard", policy="hard")])
        rc, doc, r = stapler.status_json()
        got = {c["name"]: (c["status"], c["action"]) for c in doc["certificates"]}
        self.assertEqual(got, {"unknown-soft": ("unknown", "no_staple"),
                               "unknown-hard": ("unknown", "not_servable")}, doc)
        self.assertEqual(metric_value(stapler.metrics(), "ocsp_stapler_staple_status", certificate="unknown-soft",
                                      status="unknown"), 1)
        hs = handshake(self.start_server("unknown-soft", stapler).port, self.pki.ca_cert)
        self.assertTrue(hs.completed and hs.no_staple, "an unknown answer was stapled:\n" + hs.summary())
        hs = handshake(self.start_server("unknown-hard", stapler).port, self.pki.ca_cert)
        self.assertFalse(hs.completed, hs.summary())

    def test_response_larger_than_a_slot(self):
        # 256-byte slots hold at most 192 bytes of DER; an EC-signed response is larger.
        stapler = self.start_stapler([self.cert("small")], stapler={"shm_slot_size": 256})
        cert = stapler.cert_status("small")
        self.assertEqual(cert["status"], "none", cert)
        self.assertIn("too_large", cert["last_error"] or "", cert)
        self.assertGreaterEqual(metric_value(stapler.metrics(), "ocsp_stapler_fetch_total", certificate="small",
                                             result="too_large"), 1)
        self.assertTrue(stapler.alive())

    def test_directory_skips_unusable_files(self):
        d = self.workdir("dir")
        shutil.copy(self.certs["dir-good"]["chain"], d / "dir-good.pem")
        shutil.copy(self.certs["dir-good"]["key"], d / "dir-good.key")
        (d / "leaf-only.pem").write_text(self.certs["busy"]["cert"].read_text())  # no issuer
        (d / "garbage.crt").write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
        (d / "empty.pem").write_text("")
        stapler = self.start_stapler([], directories=[{"path": str(d)}])
        rc, doc, r = stapler.status_json()
        self.assertEqual(rc, 0, r.stdout + r.stderr)
        self.assertEqual([(c["name"], c["status"]) for c in doc["certificates"]], [("dir-good", "good")], doc)

    def test_bad_clients_on_control_socket_and_metrics_port(self):
        stapler = self.start_stapler([self.cert("busy")])
        # An idle client that never sends its line, and one that sends garbage or too much.
        idle = socket.socket(socket.AF_UNIX)
        idle.connect(str(stapler.control_socket))
        self.addCleanup(idle.close)
        for payload in (b"bogus command\n", b"x" * 100000 + b"\n", b"\xff\xfe\x00\n", b"refresh no-such-cert\n"):
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(10)
                s.connect(str(stapler.control_socket))
                try:
                    s.sendall(payload)
                    s.recv(65536)
                except OSError:
                    pass
        idle_http = socket.create_connection(("127.0.0.1", stapler.metrics_port))
        self.addCleanup(idle_http.close)
        with socket.create_connection(("127.0.0.1", stapler.metrics_port), timeout=10) as s:
            s.sendall(b"GARBAGE / HTTP/9.9\r\n" + b"X: " + b"y" * 100000 + b"\r\n\r\n")
            try:
                s.recv(65536)
            except OSError:
                pass
        self.assertTrue(stapler.alive(), stapler.log_text())
        started = time.monotonic()
        rc, doc, r = stapler.status_json()
        self.assertEqual(rc, 0, r.stdout + r.stderr)
        self.assertLess(time.monotonic() - started, 5, "status waited behind an idle control client")
        self.assertEqual(metric_value(stapler.metrics(), "ocsp_stapler_ready"), 1)

        # Eight refresh commands at once all get their answer.
        results = []

        def one():
            results.append(stapler.refresh("busy"))
        threads = [threading.Thread(target=one) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        self.assertEqual(len(results), 8)
        for rc, out in results:
            self.assertEqual((rc, out.strip()), (0, "busy: ok good"), out)
        self.assertTrue(stapler.alive(), stapler.log_text())


if __name__ == "__main__":
    unittest.main(verbosity=2)
