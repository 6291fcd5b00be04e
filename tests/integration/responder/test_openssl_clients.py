"""ocsp-responder against real clients: openssl ocsp, curl, Python cryptography, GnuTLS ocsptool."""
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib"))
from ocspkit_testlib import (Index, Pki, Responder, b64_forms, make_request_der, ocsp_query,  # noqa: E402
                             response_text, run)


class OpenSslClients(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="ocspkit-it-")
        root = Path(cls.tmp.name)
        cls.pki = Pki(root, "Clients EC CA", key="ec")
        cls.good, _, cls.good_serial = cls.pki.issue("good.example")
        cls.revoked, _, cls.revoked_serial = cls.pki.issue("revoked.example")
        cls.held, _, cls.held_serial = cls.pki.issue("held.example")
        cls.later, _, cls.later_serial = cls.pki.issue("later.example")
        cls.signer, cls.signer_key, _ = cls.pki.issue("ocsp-signer", extensions="ocsp_signer")
        cls.pki.revoke(cls.revoked, "-crl_reason", "keyCompromise")
        cls.pki.revoke(cls.held, "-crl_reason", "certificateHold")
        cls.rsa = Pki(root, "Clients RSA CA", key="rsa")
        cls.rsa_good, _, cls.rsa_good_serial = cls.rsa.issue("rsa-good.example")
        cls.db = root / "index.db"
        cls.index = Index(cls.db)
        cls.index.ctl("issuer", "add", str(cls.pki.ca_cert))
        cls.index.ctl("issuer", "add", str(cls.rsa.ca_cert))
        cls.index.ctl("import-index", "--issuer", str(cls.pki.ca_cert), str(cls.pki.index()))
        cls.index.ctl("import-index", "--issuer", str(cls.rsa.ca_cert), str(cls.rsa.index()))
        cls.responder = Responder(root, cls.db, [
            {"name": "ec", "ca": str(cls.pki.ca_cert), "signer_cert": str(cls.signer), "signer_key": str(cls.signer_key)},
            {"name": "rsa", "ca": str(cls.rsa.ca_cert), "signer_key": str(cls.rsa.ca_key)},
        ])

    @classmethod
    def tearDownClass(cls):
        cls.responder.close()
        cls.tmp.cleanup()

    def query(self, *serials, pki=None, extra=(), digest=None):
        pki = pki or self.pki
        return ocsp_query(self.responder.url, pki.ca_cert, serials=serials, ca_file=pki.ca_cert, extra=extra,
                          digest=digest)

    def test_good_revoked_hold_unknown_verified_with_cafile(self):
        rc, out = self.query(self.good_serial, self.revoked_serial, self.held_serial, "7F7F7F")
        self.assertEqual(rc, 0, out)
        self.assertIn("Response verify OK", out)
        self.assertIn(f"0x{self.good_serial}: good", out)
        self.assertRegex(out, rf"0x{self.revoked_serial}: revoked\s+This Update")
        self.assertIn("Reason: keyCompromise", out)
        self.assertIn("Reason: certificateHold", out)
        self.assertIn("0x7F7F7F: unknown", out)

    def test_vafile_verification_with_delegated_signer(self):
        rc, out = ocsp_query(self.responder.url, self.pki.ca_cert, serials=[self.good_serial],
                             extra=["-VAfile", str(self.signer)])
        self.assertEqual(rc, 0, out)
        self.assertIn("Response verify OK", out)

    def test_nonce_is_echoed_and_no_nonce_works(self):
        rc, out = self.query(self.good_serial, extra=["-nonce"])
        self.assertEqual(rc, 0, out)
        self.assertNotIn("WARNING: no nonce in response", out)
        self.assertIn("Response verify OK", out)
        rc, out = self.query(self.good_serial, extra=["-no_nonce"])
        self.assertEqual(rc, 0, out)
        self.assertIn(f"0x{self.good_serial}: good", out)

    def test_sha256_certid(self):
        rc, out = self.query(self.revoked_serial, digest="sha256", extra=["-resp_text"])
        self.assertEqual(rc, 0, out)
        self.assertIn("Hash Algorithm: sha256", out)
        self.assertIn(f"0x{self.revoked_serial}: revoked", out)

    def test_rsa_issuer_signs_with_ca_key(self):
        rc, out = self.query(self.rsa_good_serial, pki=self.rsa)
        self.assertEqual(rc, 0, out)
        self.assertIn("Response verify OK", out)
        self.assertIn(f"0x{self.rsa_good_serial}: good", out)

    def test_unknown_issuer_is_unauthorized(self):
        other = Pki(Path(self.tmp.name), "Unregistered CA", key="ec")
        rc, out = ocsp_query(self.responder.url, other.ca_cert, serials=["01"])
        self.assertIn("unauthorized (6)", out)

    def test_curl_get_every_encoding(self):
        der = make_request_der(self.pki.ca_cert, [self.revoked_serial], workdir=self.tmp.name)
        for label, component in b64_forms(der):
            for prefix in ("/", "//"):
                with self.subTest(encoding=label, prefix=prefix):
                    r = run(["curl", "-sS", "-D", "-", "-o", f"{self.tmp.name}/get.der",
                             f"{self.responder.url}{prefix}{component}"])
                    self.assertIn("200", r.stdout.splitlines()[0])
                    self.assertIn("application/ocsp-response", r.stdout.lower())
                    self.assertIn("max-age=", r.stdout)
                    body = Path(f"{self.tmp.name}/get.der").read_bytes()
                    self.assertIn("Cert Status: revoked", response_text(body, self.tmp.name))

    def test_conditional_get_returns_304(self):
        der = make_request_der(self.pki.ca_cert, [self.good_serial], workdir=self.tmp.name)
        url = f"{self.responder.url}/{b64_forms(der)[0][1]}"
        headers = run(["curl", "-sS", "-D", "-", "-o", "/dev/null", url]).stdout
        etag = [h.split(":", 1)[1].strip() for h in headers.splitlines() if h.lower().startswith("etag:")][0]
        r = run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-H", f"If-None-Match: {etag}", url])
        self.assertEqual(r.stdout, "304")

    def test_python_cryptography_verifies(self):
        der = make_request_der(self.pki.ca_cert, [self.revoked_serial], digest="sha256", workdir=self.tmp.name)
        r = run(["curl", "-sS", "--data-binary", "@-", "-H", "Content-Type: application/ocsp-request",
                 "-o", f"{self.tmp.name}/post.der", self.responder.url], input=der)
        script = Path(__file__).resolve().parent / "verify_with_cryptography.py"
        r = run([sys.executable, str(script), f"{self.tmp.name}/post.der", str(self.pki.ca_cert), str(self.revoked),
                 "revoked", "sha256"], check=False)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    @unittest.skipUnless(shutil.which("ocsptool"), "GnuTLS ocsptool not installed")
    def test_gnutls_ocsptool(self):
        req = Path(self.tmp.name) / "gnutls-req.der"
        run(["ocsptool", "--generate-request", "--load-issuer", str(self.pki.ca_cert), "--load-cert",
             str(self.good), "--outfile", str(req), "--inder"], check=False)
        self.assertTrue(req.exists() and req.stat().st_size > 0)
        resp = Path(self.tmp.name) / "gnutls-resp.der"
        run(["curl", "-sS", "--data-binary", f"@{req}", "-H", "Content-Type: application/ocsp-request",
             "-o", str(resp), self.responder.url])
        r = run(["ocsptool", "--response-info", "--load-response", str(resp), "--inder"], check=False)
        self.assertIn("Certificate Status: good", r.stdout + r.stderr)
        signer_chain = Path(self.tmp.name) / "gnutls-trust.pem"
        signer_chain.write_text(Path(self.pki.ca_cert).read_text())
        r = run(["ocsptool", "--verify-response", "--load-response", str(resp), "--inder",
                 "--load-trust", str(signer_chain)], check=False)
        self.assertIn("Verifying OCSP Response: Success", r.stdout + r.stderr)

    def test_revocation_visible_within_one_second(self):
        rc, out = self.query(self.later_serial)
        self.assertIn(f"0x{self.later_serial}: good", out)
        self.index.ctl("revoke", self.later_serial, "--issuer", str(self.pki.ca_cert), "--reason", "superseded")
        start = time.monotonic()
        while True:
            rc, out = self.query(self.later_serial)
            if f"0x{self.later_serial}: revoked" in out:
                break
            self.assertLess(time.monotonic() - start, 1.0, "revocation not served within 1 s:\n" + out)
            time.sleep(0.05)
        self.assertIn("Reason: superseded", out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
