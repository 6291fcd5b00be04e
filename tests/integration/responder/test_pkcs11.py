"""ocsp-responder signing with keys in a PKCS#11 token: a real SoftHSM2 token initialised by the test in
a temp folder, RSA and EC keys generated in it with pkcs11-tool, delegated OCSP signer certificates for
them issued by a CA made with the openssl CLI (the CSR signed by the token through OpenSSL's pkcs11
engine, so the private keys never leave it).

Proves: RSA PKCS#1 v1.5, RSA-PSS and ECDSA answers signed in the token verify with `openssl ocsp` and
Python `cryptography`; a PIN file ending in a newline works; `[pkcs11] sessions` helper processes hold
the token sessions; a wrong PIN, a missing object or token, a module-path in the URI or a missing module
refuse start-up (and --check-config) with a message naming the token and object, never the PIN; and a
token that goes away while the responder runs (its folder renamed: chmod 000 would not stop root, the
rename does) gives tryLater for answers that need a signature while cached answers are still served,
/health degraded and the metrics moved, and signing resumes once it is back.

Skipped (exit 77) only when softhsm2, opensc or libengine-pkcs11-openssl is missing; the README's test
command installs them."""
import http.client
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib"))
from ocspkit_testlib import (OCSPCTL, RESPONDER, Index, Pki, Responder, make_request_der, ocsp_query,  # noqa: E402
                             response_text, run)

MODULE = "/usr/lib/softhsm/libsofthsm2.so"
PIN = "20261204"
SO_PIN = "87654321"
TOKEN = "ocspkit-test"


def engine_available():
    r = subprocess.run(["openssl", "engine", "pkcs11", "-t"], capture_output=True, text=True)
    return r.returncode == 0


def missing_tools():
    missing = [t for t in ("softhsm2-util", "pkcs11-tool") if shutil.which(t) is None]
    if not Path(MODULE).exists():
        missing.append(MODULE)
    if not engine_available():
        missing.append("the OpenSSL pkcs11 engine (libengine-pkcs11-openssl)")
    return missing


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {timeout} s")
        time.sleep(0.05)


def get(url, path):
    try:
        with urllib.request.urlopen(f"{url}{path}", timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def post(url, der):
    conn = http.client.HTTPConnection(url.split("//")[1].split(":")[0], int(url.rsplit(":", 1)[1]), timeout=10)
    conn.request("POST", "/", body=der, headers={"Content-Type": "application/ocsp-request"})
    body = conn.getresponse().read()
    conn.close()
    return body


def labelled_metric(url, name, issuer):
    _, body = get(url, "/metrics")
    m = re.search(rf'^{name}{{issuer="{issuer}"}} (\S+)$', body.decode(), re.M)
    if not m:
        raise AssertionError(f"{name}{{issuer={issuer}}} missing from /metrics")
    return float(m.group(1))


def verify_with_cryptography(der, ca_file, rsa_pss):
    """The response's signature, checked by Python cryptography with the delegated signer's key (itself
    checked against the CA), with PSS parameters when the answer says RSASSA-PSS."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from cryptography.x509 import ocsp
    resp = ocsp.load_der_ocsp_response(der)
    assert resp.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL, resp.response_status
    ca = x509.load_pem_x509_certificate(Path(ca_file).read_bytes())
    (signer,) = resp.certificates
    ca.public_key().verify(signer.signature, signer.tbs_certificate_bytes, ec.ECDSA(signer.signature_hash_algorithm))
    key = signer.public_key()
    oid = resp.signature_algorithm_oid.dotted_string
    if isinstance(key, rsa.RSAPublicKey):
        if rsa_pss:
            assert oid == "1.2.840.113549.1.1.10", oid  # id-RSASSA-PSS
            key.verify(resp.signature, resp.tbs_response_bytes,
                       padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256())
        else:
            assert oid == "1.2.840.113549.1.1.11", oid  # sha256WithRSAEncryption
            key.verify(resp.signature, resp.tbs_response_bytes, padding.PKCS1v15(), hashes.SHA256())
    else:
        assert oid == "1.2.840.10045.4.3.2", oid  # ecdsa-with-SHA256
        key.verify(resp.signature, resp.tbs_response_bytes, ec.ECDSA(hashes.SHA256()))
    return resp.certificate_status.name.lower()


class Pkcs11Signer(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="ocspkit-pkcs11-")
        cls.root = Path(cls.tmp.name)
        cls.tokens = cls.root / "tokens"
        cls.tokens.mkdir()
        conf = cls.root / "softhsm2.conf"
        conf.write_text(f"directories.tokendir = {cls.tokens}\nobjectstore.backend = file\nlog.level = ERROR\n")
        # The responder and its helpers inherit this, as they would a system-wide /etc/softhsm/softhsm2.conf.
        os.environ["SOFTHSM2_CONF"] = str(conf)
        run(["softhsm2-util", "--init-token", "--free", "--label", TOKEN, "--pin", PIN, "--so-pin", SO_PIN])
        for label, key_id, key_type in (("rsa-signer", "01", "rsa:2048"), ("ec-signer", "02", "EC:prime256v1")):
            run(["pkcs11-tool", "--module", MODULE, "--token-label", TOKEN, "--login", "--pin", PIN, "--keypairgen",
                 "--key-type", key_type, "--label", label, "--id", key_id])
        # A PIN file as an editor or `echo` writes it, ending in a newline (libp11 0.4.12 fails the login
        # unless the responder strips it).
        cls.pin_file = cls.root / "token.pin"
        cls.pin_file.write_text(PIN + "\n")
        os.chmod(cls.pin_file, 0o600)
        cls.engine_conf = cls.root / "engine.cnf"
        # For the openssl CLI only (the responder takes its module from [pkcs11]): the engine, its module,
        # and the [req] section `openssl req` insists on even with -subj.
        cls.engine_conf.write_text(f"openssl_conf = oc\n[oc]\nengines = es\n[es]\npkcs11 = p11\n[p11]\n"
                                   f"MODULE_PATH = {MODULE}\n[req]\ndistinguished_name = dn\n[dn]\n")
        cls.pki = Pki(cls.root, "HSM Test CA")
        cls.signer_cert = {label: cls.issue_for_token_key(label) for label in ("rsa-signer", "ec-signer")}
        cls.good, _, cls.good_serial = cls.pki.issue("good.example")
        cls.revoked, _, cls.revoked_serial = cls.pki.issue("revoked.example")
        cls.pki.revoke(cls.revoked, "-crl_reason", "keyCompromise")
        cls.db = cls.root / "index.db"
        cls.index = Index(cls.db)
        cls.index.add_pki(cls.pki)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    @classmethod
    def issue_for_token_key(cls, label):
        """A delegated OCSP signer certificate for the token key `label`: the CSR is signed in the token."""
        csr = cls.pki.dir / f"{label}.csr"
        cert = cls.pki.dir / f"{label}.pem"
        env = dict(os.environ, OPENSSL_CONF=str(cls.engine_conf))
        run(["openssl", "req", "-new", "-engine", "pkcs11", "-keyform", "engine",
             "-key", f"pkcs11:token={TOKEN};object={label};type=private;pin-value={PIN}",
             "-subj", f"/CN=OCSP {label}", "-out", str(csr)], env=env)
        run(["openssl", "ca", "-batch", "-config", str(cls.pki.cnf), "-extensions", "ocsp_signer", "-days", "30",
             "-in", str(csr), "-out", str(cert), "-notext"])
        return cert

    def uri(self, label, pin_file=None):
        return f"pkcs11:token={TOKEN};object={label};type=private?pin-source=file:{pin_file or self.pin_file}"

    def issuer(self, label, **extra):
        issuer = {"name": "hsm", "ca": str(self.pki.ca_cert), "signer_cert": str(self.signer_cert[label]),
                  "signer_key": self.uri(label)}
        issuer.update(extra)
        return issuer

    def start(self, issuer, sessions=2, module=MODULE):
        workdir = Path(tempfile.mkdtemp(dir=self.root))
        r = Responder(workdir, self.db, [issuer], log_level="info",
                      extra_toml=f'[pkcs11]\nmodule = "{module}"\nsessions = {sessions}\ntimeout = "5s"\n')
        self.addCleanup(r.close)
        return r

    def check_config(self, issuer, module=MODULE):
        cfg = self.root / "check.toml"
        lines = [f'database = "{self.db}"', "[pkcs11]", f'module = "{module}"', "[[issuer]]"]
        lines += [f'{k} = "{v}"' for k, v in issuer.items()]
        cfg.write_text("\n".join(lines) + "\n")
        return run([RESPONDER, "--config", str(cfg), "--check-config"], check=False)

    def test_rsa_pkcs1_rsa_pss_and_ecdsa_answers_signed_in_the_token_verify(self):
        for label, padding in (("rsa-signer", "pkcs1"), ("rsa-signer", "pss"), ("ec-signer", "pkcs1")):
            with self.subTest(key=label, rsa_padding=padding):
                r = self.start(self.issuer(label, rsa_padding=padding))
                for serial, state in ((self.good_serial, "good"), (self.revoked_serial, "revoked")):
                    # openssl verifies the delegated signer against -CAfile, then the signature.
                    rc, out = ocsp_query(r.url, self.pki.ca_cert, serials=[serial], ca_file=self.pki.ca_cert)
                    self.assertEqual(rc, 0, out)
                    self.assertIn("Response verify OK", out)
                    self.assertIn(f": {state}", out)
                    # -VAfile: the signer certificate given directly, as clients that pin it do.
                    rc, out = ocsp_query(r.url, self.pki.ca_cert, serials=[serial],
                                         extra=["-VAfile", str(self.signer_cert[label])])
                    self.assertEqual(rc, 0, out)
                    self.assertIn("Response verify OK", out)
                    der = post(r.url, make_request_der(self.pki.ca_cert, [serial], nonce=True, workdir=r.workdir))
                    self.assertEqual(verify_with_cryptography(der, self.pki.ca_cert, padding == "pss"), state)
                text = response_text(post(r.url, make_request_der(self.pki.ca_cert, [self.good_serial],
                                                                  workdir=r.workdir)), r.workdir)
                expected = {"pkcs1": "sha256WithRSAEncryption", "pss": "rsassaPss"}[padding] \
                    if label == "rsa-signer" else "ecdsa-with-SHA256"
                self.assertIn(f"Signature Algorithm: {expected}", text)
                self.assertIn("key in PKCS#11 token 'ocspkit-test' object", r.log_text() + self.health(r)[1])

    def health(self, r):
        status, body = get(r.url, "/health")
        return status, body.decode()

    def test_sessions_are_helper_processes(self):
        r = self.start(self.issuer("ec-signer"), sessions=3)
        children = run(["ps", "-o", "args=", "--ppid", str(r.proc.pid)]).stdout.splitlines()
        helpers = [c for c in children if "--pkcs11-helper" in c]
        self.assertEqual(len(helpers), 3, children)

    def test_bad_tokens_objects_pins_and_modules_refuse_start_up(self):
        wrong_pin = self.root / "wrong.pin"
        wrong_pin.write_text("99999999\n")
        os.chmod(wrong_pin, 0o600)
        cases = [
            ("wrong PIN", self.issuer("ec-signer", signer_key=self.uri("ec-signer", wrong_pin)), MODULE,
             ["token 'ocspkit-test' object 'ec-signer'", "PIN incorrect"]),
            ("missing object", self.issuer("ec-signer", signer_key=self.uri("no-such-key")), MODULE,
             ["token 'ocspkit-test' object 'no-such-key'", "not found"]),
            ("missing token", self.issuer("ec-signer", signer_key=self.uri("ec-signer").replace(TOKEN, "no-such-token")),
             MODULE, ["token 'no-such-token' object 'ec-signer'", "No matching initialized token"]),
            ("module-path in the URI",
             self.issuer("ec-signer", signer_key=self.uri("ec-signer") + f"&module-path={MODULE}"), MODULE,
             ["issuer[0].signer_key", "module-path in the URI is not supported", "[pkcs11] module"]),
            ("missing module", self.issuer("ec-signer"), "/usr/lib/no-such-pkcs11-module.so",
             ["token 'ocspkit-test' object 'ec-signer'", "/usr/lib/no-such-pkcs11-module.so", "cannot be read"]),
        ]
        for what, issuer, module, expected in cases:
            with self.subTest(what):
                r = self.check_config(issuer, module=module)
                self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
                for part in expected:
                    self.assertIn(part, r.stderr)
                self.assertNotIn(PIN, r.stderr + r.stdout)
                self.assertNotIn("99999999", r.stderr + r.stdout)
        # Starting for real refuses the same way (and leaves no helper behind).
        issuer = self.issuer("ec-signer", signer_key=self.uri("ec-signer", wrong_pin))
        with self.assertRaises(AssertionError) as refused:
            self.start(issuer)
        self.assertIn("PIN incorrect", str(refused.exception))
        self.assertNotIn("99999999", str(refused.exception))

    def token_ca(self, label, key_type, key_id):
        """A CA whose key is generated in the token: its self-signed certificate and one leaf (serial
        4242) signed there, through OpenSSL's pkcs11 engine."""
        run(["pkcs11-tool", "--module", MODULE, "--token-label", TOKEN, "--login", "--pin", PIN, "--keypairgen",
             "--key-type", key_type, "--label", label, "--id", key_id])
        env = dict(os.environ, OPENSSL_CONF=str(self.engine_conf))
        engine_key = f"pkcs11:token={TOKEN};object={label};type=private;pin-value={PIN}"
        ca = self.root / f"{label}.pem"
        run(["openssl", "req", "-new", "-x509", "-engine", "pkcs11", "-keyform", "engine", "-key", engine_key,
             "-subj", f"/CN=Token CA {label}", "-days", "30", "-out", str(ca),
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
             "-addext", "subjectKeyIdentifier=hash"], env=env)
        leaf_key, leaf_csr, leaf = (self.root / f"{label}-leaf.{x}" for x in ("key", "csr", "pem"))
        run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", str(leaf_key), "-subj", "/CN=leaf", "-out", str(leaf_csr)], env=env)
        run(["openssl", "x509", "-req", "-in", str(leaf_csr), "-engine", "pkcs11", "-CAkeyform", "engine",
             "-CA", str(ca), "-CAkey", engine_key, "-set_serial", "0x4242", "-days", "10", "-out", str(leaf)], env=env)
        return ca, leaf

    def test_crls_signed_in_the_token_by_ocspctl_and_the_responder(self):
        for label, key_type, key_id, padding in (("ca-ec", "EC:prime256v1", "13", "pkcs1"),
                                                 ("ca-rsa", "rsa:2048", "14", "pss")):
            with self.subTest(key=label, rsa_padding=padding):
                ca, leaf = self.token_ca(label, key_type, key_id)
                db = self.root / f"{label}.db"
                index = Index(db)
                index.ctl("issuer", "add", str(ca))
                index.ctl("import-certs", "--issuer", str(ca), str(leaf))
                index.ctl("revoke", "4242", "--issuer", str(ca), "--reason", "keyCompromise")
                out = self.root / f"{label}.crl"
                r = run([OCSPCTL, "crl", "--db", str(db), "--issuer", str(ca), "--key", self.uri(label),
                         "--pkcs11-module", MODULE, "--rsa-padding", padding, "--der", "-o", str(out)])
                self.assertIn("1 entries", r.stdout)
                check = run(["openssl", "crl", "-inform", "DER", "-in", str(out), "-CAfile", str(ca), "-noout"])
                self.assertIn("verify OK", check.stdout + check.stderr)
                text = run(["openssl", "crl", "-inform", "DER", "-in", str(out), "-noout", "-text"]).stdout
                self.assertIn("Serial Number: 4242", text)
                self.assertIn("rsassaPss" if label == "ca-rsa" else "ecdsa-with-SHA256", text)
                v = run(["openssl", "verify", "-crl_check", "-CAfile", str(ca), "-CRLfile", str(out), str(leaf)],
                        check=False)
                self.assertNotEqual(v.returncode, 0)
                self.assertIn("certificate revoked", v.stdout + v.stderr)
                # Without the PIN file, or with a file key's options, it is refused with the reason.
                bad = run([OCSPCTL, "crl", "--db", str(db), "--issuer", str(ca), "--pkcs11-module", MODULE,
                           "--key", f"pkcs11:token={TOKEN};object={label};type=private"], check=False)
                self.assertEqual(bad.returncode, 1, bad.stderr)
                self.assertIn("no PIN file", bad.stderr)

                # The responder: the CA's key in the token signs both the answers and the CRL.
                workdir = Path(tempfile.mkdtemp(dir=self.root))
                responder = Responder(workdir, db, [{"name": label, "ca": str(ca), "signer_key": self.uri(label),
                                                     "crl_key": self.uri(label), "rsa_padding": padding}],
                                      log_level="info", extra_toml=f'[pkcs11]\nmodule = "{MODULE}"\n')
                self.addCleanup(responder.close)
                status, body = get(responder.url, f"/crl/{label}.crl")
                self.assertEqual(status, 200)
                served = workdir / "served.crl"
                served.write_bytes(body)
                check = run(["openssl", "crl", "-inform", "DER", "-in", str(served), "-CAfile", str(ca), "-noout"])
                self.assertIn("verify OK", check.stdout + check.stderr)
                self.assertIn("Serial Number: 4242",
                              run(["openssl", "crl", "-inform", "DER", "-in", str(served), "-noout", "-text"]).stdout)
                rc, answer = ocsp_query(responder.url, ca, serials=["4242"], ca_file=ca)
                self.assertEqual(rc, 0, answer)
                self.assertIn(": revoked", answer)
                self.assertNotIn(PIN, responder.log_text())

    def test_token_lost_while_running_then_back(self):
        r = self.start(self.issuer("ec-signer"))
        cached_request = make_request_der(self.pki.ca_cert, [self.good_serial], workdir=r.workdir)
        cached = post(r.url, cached_request)
        self.assertIn("Cert Status: good", response_text(cached, r.workdir))
        self.assertEqual(post(r.url, cached_request), cached)  # now from the pre-signed cache
        self.assertEqual(labelled_metric(r.url, "ocsp_signer_up", "hsm"), 1)
        self.assertEqual(labelled_metric(r.url, "ocsp_signing_errors_total", "hsm"), 0)

        away = self.root / "tokens.away"
        os.rename(self.tokens, away)
        try:
            # The signature that meets the missing token, and every one after it, is tryLater.
            for _ in range(3):
                rc, out = ocsp_query(r.url, self.pki.ca_cert, serials=[self.revoked_serial])
                self.assertIn("trylater", out.lower(), out)
            hits = r.metric("ocsp_cache_hits_total")
            self.assertEqual(post(r.url, cached_request), cached)
            self.assertEqual(r.metric("ocsp_cache_hits_total"), hits + 1)
            status, text = self.health(r)
            self.assertEqual(status, 200, text)
            self.assertIn("issuer hsm: signer DEGRADED PKCS#11 token 'ocspkit-test' object 'ec-signer'", text)
            self.assertEqual(labelled_metric(r.url, "ocsp_signer_up", "hsm"), 0)
            self.assertEqual(labelled_metric(r.url, "ocsp_signing_errors_total", "hsm"), 1)
            self.assertGreaterEqual(r.metric("ocsp_try_later_total"), 3)
            self.assertTrue(r.alive())
            self.assertIn("signing failed", r.log_text())
        finally:
            os.rename(away, self.tokens)
        wait_until(lambda: "DEGRADED" not in self.health(r)[1], 20, "the responder did not reconnect to the token")
        self.assertEqual(labelled_metric(r.url, "ocsp_signer_up", "hsm"), 1)
        rc, out = ocsp_query(r.url, self.pki.ca_cert, serials=[self.revoked_serial], ca_file=self.pki.ca_cert)
        self.assertEqual(rc, 0, out)
        self.assertIn(": revoked", out)
        self.assertIn("Response verify OK", out)
        self.assertIn("available again", r.log_text())
        self.assertNotIn(PIN, r.log_text())


if __name__ == "__main__":
    missing = missing_tools()
    if missing:
        print(f"skipped: {', '.join(missing)} not installed (apt-get install softhsm2 opensc "
              "libengine-pkcs11-openssl)", file=sys.stderr)
        sys.exit(77)
    unittest.main(verbosity=2)
