"""CRLs served by ocsp-responder (GET /crl/<name>.crl) for an index with every kind of revocation: the
CRL and the OCSP answers agree for every serial, both ways; real clients take the CRL (`openssl crl
-verify`, `openssl verify -crl_check`, Python `cryptography`, nginx and Apache refusing a revoked client
certificate with it); a revocation made with `ocspctl revoke` is on the next CRL within the change poll,
under a higher CRL number; the HTTP answer's type, caching fields, conditional requests and errors.
"""
import datetime
import json
import re
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib"))
from ocspkit_testlib import Index, Pki, Responder, free_port, run  # noqa: E402
from tls_servers import PAGE_BODY, Apache, Nginx, curl, have_apache, have_nginx, wait_for_log  # noqa: E402

from cryptography import x509  # noqa: E402
from cryptography.x509 import ocsp  # noqa: E402
from cryptography.x509.oid import ExtensionOID  # noqa: E402

NAME = "crl-test-ca"
UTC = datetime.timezone.utc
NOW = datetime.datetime.now(UTC).replace(microsecond=0)
EXPIRED_CERTS_ON_CRL = x509.ObjectIdentifier("2.5.29.60")


def asn1(t):
    return t.strftime("%y%m%d%H%M%SZ")


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


# serial -> (index.txt line kind, notAfter, how ocspctl then changes it). The index holds every state the
# CRL must get right: each reason, unspecified, an invalidity date, a hold, a lifted hold, good, and
# revoked certificates that expired long ago (past the 30-day grace) or lately (within it).
FUTURE = NOW + datetime.timedelta(days=365)
ROWS = {
    "0A01": (FUTURE, ["--reason", "keyCompromise", "--invalidity-date", iso(NOW - datetime.timedelta(days=3))]),
    "0A02": (FUTURE, ["--reason", "cACompromise"]),
    "0A03": (FUTURE, ["--reason", "affiliationChanged"]),
    "0A04": (FUTURE, ["--reason", "superseded"]),
    "0A05": (FUTURE, ["--reason", "cessationOfOperation"]),
    "0A06": (FUTURE, ["--reason", "privilegeWithdrawn"]),
    "0A07": (FUTURE, ["--reason", "aACompromise"]),
    "0A08": (FUTURE, ["--reason", "unspecified"]),
    "0A09": (FUTURE, ["--reason", "certificateHold"]),
    "0A0A": (FUTURE, ["--reason", "certificateHold", "lift"]),
    "0A0B": (FUTURE, None),
    "0A0C": (NOW - datetime.timedelta(days=400), ["--reason", "keyCompromise", "--time", iso(NOW - datetime.timedelta(days=500))]),
    "0A0D": (NOW - datetime.timedelta(days=10), ["--reason", "superseded", "--time", iso(NOW - datetime.timedelta(days=20))]),
    "0A0E": (NOW - datetime.timedelta(days=400), None),
}


def fetch(url, method="GET", headers=None):
    """(status, headers, body) of one HTTP request; errors are answers too."""
    req = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def crl_number(crl):
    return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number


def entry_reason(entry):
    try:
        return entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
    except x509.ExtensionNotFound:
        return None


def entry_invalidity(entry):
    try:
        return entry.extensions.get_extension_for_class(x509.InvalidityDate).value.invalidity_date_utc
    except x509.ExtensionNotFound:
        return None


def expired_certs_on_crl(crl):
    der = crl.extensions.get_extension_for_oid(EXPIRED_CERTS_ON_CRL).value.value
    assert der[0] == 0x18, "ExpiredCertsOnCRL is a GeneralizedTime"
    return datetime.datetime.strptime(der[2:2 + der[1]].decode(), "%Y%m%d%H%M%SZ").replace(tzinfo=UTC)


class ResponderCrl(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="ocspkit-it-crl-")
        cls.addClassCleanup(cls.tmp.cleanup)
        cls.root = Path(cls.tmp.name)
        cls.pki = Pki(cls.root, "CRL Test CA", key="ec")
        cls.server_cert, cls.server_key, _ = cls.pki.issue("localhost", san="DNS:localhost")
        cls.clients = {name: cls.pki.issue(f"{name}-client") for name in ("good", "revoked", "later")}
        # Certificates that only exist as index.txt lines: the index's states without issuing each one.
        with open(cls.pki.index(), "a") as f:
            for serial, (not_after, _) in ROWS.items():
                f.write(f"V\t{asn1(not_after)}\t\t{serial}\tunknown\t/CN=row-{serial}\n")
        cls.db = cls.root / "index.db"
        cls.index = Index(cls.db)
        cls.index.add_pki(cls.pki)
        ca = str(cls.pki.ca_cert)
        for serial, (_, change) in ROWS.items():
            if change is None:
                continue
            args = [a for a in change if a != "lift"]
            cls.index.ctl("revoke", serial, "--issuer", ca, *args)
            if "lift" in change:
                cls.index.ctl("unrevoke", serial, "--issuer", ca)
        cls.index.ctl("revoke", cls.clients["revoked"][2], "--issuer", ca, "--reason", "keyCompromise")
        cls.responder = Responder(cls.root, cls.db, [{"name": NAME, "ca": ca, "signer_key": str(cls.pki.ca_key),
                                                      "crl_key": str(cls.pki.ca_key)}])
        cls.addClassCleanup(cls.responder.close)
        cls.crl_url = f"{cls.responder.url}/crl/{NAME}.crl"

    def tearDown(self):
        self.assertTrue(self.responder.alive(), "ocsp-responder died:\n" + self.responder.log_text())

    # helpers
    def get_crl(self):
        status, headers, body = fetch(self.crl_url)
        self.assertEqual(status, 200, body)
        return x509.load_der_x509_crl(body), body

    def write(self, name, data):
        path = self.root / name
        path.write_bytes(data)
        return path

    def pem_file(self, der, name):
        der_path = self.write(name + ".der", der)
        pem = self.root / (name + ".pem")
        run(["openssl", "crl", "-inform", "DER", "-in", str(der_path), "-out", str(pem)])
        return pem

    def index_rows(self):
        rows = json.loads(self.index.ctl("list", "--json").stdout)["certificates"]
        return {r["serial"]: r for r in rows}

    def ocsp_answers(self, serials):
        """{serial hex: OCSPSingleResponse} from the responder, one request for all of them."""
        req, resp = self.root / "agree-req.der", self.root / "agree-resp.der"
        cmd = ["openssl", "ocsp", "-issuer", str(self.pki.ca_cert), "-no_nonce", "-url", self.responder.url,
               "-respout", str(resp), "-noverify"]
        for s in serials:
            cmd += ["-serial", "0x" + s]
        run(cmd + ["-reqout", str(req)], check=False)
        answer = ocsp.load_der_ocsp_response(resp.read_bytes())
        self.assertEqual(answer.response_status, ocsp.OCSPResponseStatus.SUCCESSFUL)
        return {format(r.serial_number, "X").rjust(2, "0"): r for r in answer.responses}

    # cases
    def test_crl_and_ocsp_agree_on_every_serial_both_ways(self):
        self.responder.wait_for_index_changes()
        crl, _ = self.get_crl()
        rows = self.index_rows()
        listed = {format(e.serial_number, "X"): e for e in crl}
        scope = expired_certs_on_crl(crl)
        answers = {}
        serials = sorted(rows)
        for i in range(0, len(serials), 20):
            answers.update(self.ocsp_answers(serials[i:i + 20]))
        norm = lambda s: s.lstrip("0") or "0"  # noqa: E731
        answers = {norm(k): v for k, v in answers.items()}
        self.assertEqual(len(answers), len(rows))
        # Every serial on the CRL is revoked in OCSP with the same time and reason.
        for serial, entry in listed.items():
            single = answers[norm(serial)]
            self.assertEqual(single.certificate_status, ocsp.OCSPCertStatus.REVOKED, serial)
            self.assertEqual(single.revocation_time_utc, entry.revocation_date_utc, serial)
            self.assertEqual(single.revocation_reason, entry_reason(entry), serial)
            row = rows[[k for k in rows if norm(k) == serial][0]]
            self.assertEqual(entry_invalidity(entry),
                             datetime.datetime.fromisoformat(row["invalidity_date"].replace("Z", "+00:00"))
                             if row["invalidity_date"] else None, serial)
        # Every revoked OCSP answer within the CRL's scope is on the CRL; good answers never are.
        for serial, row in rows.items():
            single = answers[norm(serial)]
            not_after = datetime.datetime.fromisoformat(row["not_after"].replace("Z", "+00:00"))
            if single.certificate_status == ocsp.OCSPCertStatus.REVOKED:
                if not_after >= scope:
                    self.assertIn(norm(serial), listed, f"{serial} is revoked in OCSP but not on the CRL")
                else:
                    self.assertNotIn(norm(serial), listed, f"{serial} expired before {scope} yet listed")
            else:
                self.assertEqual(single.certificate_status, ocsp.OCSPCertStatus.GOOD, serial)
                self.assertNotIn(norm(serial), listed, f"{serial} is good in OCSP but on the CRL")
        # The cases the index was built for, by name.
        self.assertEqual(entry_reason(listed["A09"]), x509.ReasonFlags.certificate_hold)
        self.assertNotIn("A0A", listed, "a lifted hold leaves the CRL")
        self.assertIsNone(entry_reason(listed["A08"]), "unspecified is left out (RFC 5280 §5.3.1)")
        self.assertNotIn("A0C", listed, "expired 400 days ago: past the 30-day grace")
        self.assertIn("A0D", listed, f"expired 10 days ago: within the grace; index {rows.get('0A0D')}, OCSP "
                      f"{answers['A0D'].certificate_status}, scope {scope}")
        self.assertEqual(answers["A0C"].certificate_status, ocsp.OCSPCertStatus.REVOKED, "OCSP keeps it revoked")
        self.assertAlmostEqual((crl.last_update_utc - scope).total_seconds(), 30 * 86400, delta=5)

    def test_fields_read_by_python_cryptography(self):
        crl, _ = self.get_crl()
        ca = x509.load_pem_x509_certificate(self.pki.ca_cert.read_bytes())
        self.assertTrue(crl.is_signature_valid(ca.public_key()))
        self.assertEqual(crl.issuer, ca.subject)
        aki = crl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
        ski = ca.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_KEY_IDENTIFIER).value
        self.assertEqual(aki.key_identifier, ski.digest)
        self.assertGreaterEqual(crl_number(crl), 1)
        self.assertEqual(crl.next_update_utc - crl.last_update_utc, datetime.timedelta(days=7))
        self.assertLessEqual(abs((crl.last_update_utc - datetime.datetime.now(UTC)).total_seconds()), 3600)
        self.assertEqual(entry_reason(crl.get_revoked_certificate_by_serial_number(0x0A01)),
                         x509.ReasonFlags.key_compromise)
        self.assertIsNotNone(entry_invalidity(crl.get_revoked_certificate_by_serial_number(0x0A01)))
        self.assertEqual(entry_reason(crl.get_revoked_certificate_by_serial_number(0x0A02)),
                         x509.ReasonFlags.ca_compromise)

    def test_openssl_crl_verify_and_verify_crl_check(self):
        _, der = self.get_crl()
        pem = self.pem_file(der, "openssl-check")
        r = run(["openssl", "crl", "-in", str(pem), "-CAfile", str(self.pki.ca_cert), "-noout"])
        self.assertIn("verify OK", r.stdout + r.stderr)
        good = run(["openssl", "verify", "-crl_check", "-CAfile", str(self.pki.ca_cert), "-CRLfile", str(pem),
                    str(self.clients["good"][0])], check=False)
        self.assertEqual(good.returncode, 0, good.stdout + good.stderr)
        revoked = run(["openssl", "verify", "-crl_check", "-CAfile", str(self.pki.ca_cert), "-CRLfile", str(pem),
                       str(self.clients["revoked"][0])], check=False)
        self.assertNotEqual(revoked.returncode, 0)
        self.assertIn("certificate revoked", revoked.stdout + revoked.stderr)

    def test_revocation_is_on_the_next_crl_within_the_change_poll_under_a_higher_number(self):
        before, _ = self.get_crl()
        serial = self.clients["later"][2]
        self.assertIsNone(before.get_revoked_certificate_by_serial_number(int(serial, 16)))
        self.index.ctl("revoke", serial, "--issuer", str(self.pki.ca_cert), "--reason", "superseded")
        revoked_at = time.monotonic()
        # change_poll is 100 ms: the watcher sees it within one poll and the publisher signs at once.
        while True:
            after, _ = self.get_crl()
            entry = after.get_revoked_certificate_by_serial_number(int(serial, 16))
            if entry is not None:
                break
            self.assertLess(time.monotonic() - revoked_at, 2.0, "not on the CRL 2 s after the revocation:\n"
                            + self.responder.log_text())
            time.sleep(0.02)
        self.assertEqual(entry_reason(entry), x509.ReasonFlags.superseded)
        self.assertGreater(crl_number(after), crl_number(before))
        metrics = fetch(f"{self.responder.url}/metrics")[2].decode()
        shown = int(re.search(rf'^ocsp_crl_number{{issuer="{NAME}"}} (\d+)$', metrics, re.M).group(1))
        self.assertGreaterEqual(shown, crl_number(after))
        self.assertRegex(metrics, rf'ocsp_crl_issued_total{{issuer="{NAME}"}} [1-9]')

    def test_http_answer_type_caching_fields_and_errors(self):
        status, headers, body = fetch(self.crl_url)
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Type"], "application/pkix-crl")
        crl = x509.load_der_x509_crl(body)
        max_age = int(re.search(r"max-age=(\d+)", headers["Cache-Control"]).group(1))
        until_next = (crl.next_update_utc - datetime.datetime.now(UTC)).total_seconds()
        self.assertGreater(max_age, 0)
        self.assertLessEqual(max_age, until_next, "max-age never beyond nextUpdate")
        self.assertLessEqual(max_age, until_next / 2 + 5, "nor beyond the re-issue at half validity")
        self.assertIn("Last-Modified", headers)
        self.assertIn("Expires", headers)
        etag = headers["ETag"]
        self.assertEqual(fetch(self.crl_url, headers={"If-None-Match": etag})[0], 304)
        head_status, head_headers, head_body = fetch(self.crl_url, method="HEAD")
        self.assertEqual((head_status, head_body), (200, b""))
        self.assertEqual(head_headers["Content-Length"], str(len(body)))
        self.assertEqual(fetch(f"{self.responder.url}/crl/no-such-ca.crl")[0], 404)
        self.assertEqual(fetch(f"{self.responder.url}/crl/{NAME}")[0], 404)
        self.assertEqual(fetch(self.crl_url, method="POST")[0], 405)
        health = fetch(f"{self.responder.url}/health")
        self.assertEqual(health[0], 200)
        self.assertIn(f"crl {NAME}: ok", health[2].decode())

    def client_request(self, server, client):
        cert, key, _ = self.clients[client]
        return curl(server.port, self.pki.ca_cert, "--cert", cert, "--key", key)

    def check_server_refuses_revoked(self, server, revoked_log):
        rc, code, body, err = self.client_request(server, "good")
        self.assertEqual((rc, code, body), (0, "200", PAGE_BODY), err + server.error_log_text())
        offset = server.error_log_size()
        rc, code, body, err = self.client_request(server, "revoked")
        self.assertNotEqual(code, "200", body)
        self.assertNotIn(PAGE_BODY.strip(), body)
        self.assertRegex(wait_for_log(server, offset, revoked_log), revoked_log)

    @unittest.skipUnless(have_nginx(), "nginx not installed")
    def test_nginx_ssl_crl_from_the_responder_refuses_the_revoked_client(self):
        _, der = self.get_crl()
        pem = self.pem_file(der, "nginx")
        server = Nginx(self.root / "nginx", free_port(), self.server_cert, self.server_key, server_directives=f"""
        ssl_verify_client on;
        ssl_client_certificate {self.pki.ca_cert};
        ssl_crl {pem};
""")
        self.addCleanup(server.stop)
        server.start()
        self.check_server_refuses_revoked(server, r"client SSL certificate verify error: \(?(23:)?certificate revoked")

    @unittest.skipUnless(have_apache(), "Apache httpd (apache2 with mod_ssl) not installed")
    def test_apache_ssl_ca_revocation_file_from_the_responder_refuses_the_revoked_client(self):
        _, der = self.get_crl()
        pem = self.pem_file(der, "apache")
        server = Apache(self.root / "apache", free_port(), self.server_cert, self.server_key, vhost_directives=f"""
    SSLCACertificateFile "{self.pki.ca_cert}"
    SSLVerifyClient require
    SSLVerifyDepth 2
    SSLCARevocationFile "{pem}"
    SSLCARevocationCheck leaf
""")
        self.addCleanup(server.stop)
        server.start()
        self.check_server_refuses_revoked(server, r"Certificate Verification: Error \(23\): certificate revoked")


if __name__ == "__main__":
    unittest.main(verbosity=2)
