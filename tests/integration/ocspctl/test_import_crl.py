"""`ocspctl import-crl` on both index backends, with CRLs made by real tools: `openssl ca -gencrl`
(full CRLs, PEM and DER), and Python `cryptography` for what `openssl ca` cannot write (a delta CRL
with removeFromCRL). Checks what the index says after each import (`ocspctl show`), that the same
CRL again changes nothing, the refusals (older CRL, another CA's, garbage) with the index unchanged,
and, on SQLite, what `openssl ocsp` gets from a responder over that index: a serial the CRL never
listed answers per `unknown_serials` until its certificate is imported, then good."""
import datetime
import sys
import tempfile
import unittest
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib"))
import postgres_testlib  # noqa: E402
from ocspkit_testlib import OCSPCTL, Pki, Responder, ocsp_query, responder_issuer, run  # noqa: E402


def ctl(db, *args, check=True, input=None):
    return run([OCSPCTL, *map(str, args), "--db", str(db)], check=check, input=input)


def gencrl(pki, out, der=False):
    """A full CRL from pki's `openssl ca` database (numbered from the crlnumber file)."""
    run(["openssl", "ca", "-config", str(pki.cnf), "-gencrl", "-crldays", "7", "-out", str(out)])
    if der:
        run(["openssl", "crl", "-in", str(out), "-outform", "DER", "-out", str(out)])
    return out


def enable_crls(pki):
    """Adds a CRL number file and AKI to pki's `openssl ca` configuration."""
    (pki.dir / "crlnumber").write_text("10\n")
    text = pki.cnf.read_text().replace("serial = $dir/serial",
                                       "serial = $dir/serial\ncrlnumber = $dir/crlnumber\ncrl_extensions = crl_ext")
    pki.cnf.write_text(text + "\n[ crl_ext ]\nauthorityKeyIdentifier = keyid:always\n")


def delta_crl(pki, number, base, removed, revoked=(), when=None):
    """A delta CRL signed with pki's CA key: removeFromCRL for `removed`, keyCompromise for `revoked`."""
    ca = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
    key = serialization.load_pem_private_key(pki.ca_key.read_bytes(), password=None)
    now = when or datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    b = (x509.CertificateRevocationListBuilder().issuer_name(ca.subject).last_update(now)
         .next_update(now + datetime.timedelta(days=1))
         .add_extension(x509.CRLNumber(number), critical=False)
         .add_extension(x509.DeltaCRLIndicator(base), critical=True)
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.public_key()), critical=False))
    for serial, reason in [(s, x509.ReasonFlags.remove_from_crl) for s in removed] + \
                          [(s, x509.ReasonFlags.key_compromise) for s in revoked]:
        b = b.add_revoked_certificate(x509.RevokedCertificateBuilder().serial_number(int(serial, 16))
                                      .revocation_date(now - datetime.timedelta(seconds=1))
                                      .add_extension(x509.CRLReason(reason), critical=False).build())
    return b.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


class ImportCrl(unittest.TestCase):
    with_responder = True

    @classmethod
    def new_database(cls):
        return cls.root / "index.db"

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="ocspkit-import-crl-")
        cls.addClassCleanup(cls.tmp.cleanup)
        cls.root = Path(cls.tmp.name)
        cls.pki = Pki(cls.root, "CRL only CA", key="rsa")
        enable_crls(cls.pki)
        cls.compromised, _, cls.compromised_serial = cls.pki.issue("compromised.example")
        cls.held, _, cls.held_serial = cls.pki.issue("held.example")
        cls.never, _, cls.never_serial = cls.pki.issue("never-listed.example")
        cls.pki.revoke(cls.compromised, "-crl_reason", "keyCompromise")
        cls.pki.revoke(cls.held, "-crl_reason", "certificateHold")
        cls.db = cls.new_database()
        ctl(cls.db, "init")
        ctl(cls.db, "issuer", "add", cls.pki.ca_cert)

    def show(self, serial):
        return ctl(self.db, "show", serial, "--issuer", self.pki.ca_cert).stdout

    def import_crl(self, path, check=True, input=None):
        return ctl(self.db, "import-crl", "--issuer", self.pki.ca_cert, path, check=check, input=input)

    def audit_count(self):
        return len(ctl(self.db, "audit").stdout.splitlines())

    def test_import_refuse_and_lift(self):
        first = gencrl(self.pki, self.root / "first.crl")  # PEM, number 0x10
        r = self.import_crl(first)
        self.assertIn("CRL 0x10", r.stdout)
        self.assertIn("2 entries; 2 added", r.stdout)
        self.assertRegex(self.show(self.compromised_serial), r"(?s)revoked.*keyCompromise")
        self.assertIn("hold", self.show(self.held_serial))
        r = ctl(self.db, "show", self.never_serial, "--issuer", self.pki.ca_cert, check=False)
        self.assertEqual(r.returncode, 2, "a serial the CRL never listed is not added")

        # The same file again (as a timer re-imports an unchanged CRL): nothing changes, exit 0.
        audit = self.audit_count()
        r = self.import_crl(first)
        self.assertIn("imported already; nothing changed", r.stdout)
        self.assertEqual(self.audit_count(), audit)

        # The next CRL, as DER through standard input.
        second = gencrl(self.pki, self.root / "second.der", der=True)
        r = self.import_crl("-", input=second.read_bytes())
        self.assertIn("CRL 0x11", r.stdout)
        self.assertIn("2 unchanged", r.stdout)

        # Refusals: an older CRL, another CA's CRL, garbage; the index and its audit unchanged.
        audit = self.audit_count()
        r = self.import_crl(first, check=False)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("older than the last CRL imported (0x11)", r.stderr)
        self.assertIn("database unchanged", r.stderr)
        other = Pki(self.root / f"other-{id(self)}", "Other CA")
        enable_crls(other)
        r = self.import_crl(gencrl(other, self.root / "other.crl"), check=False)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("not the CA", r.stderr)
        garbage = self.root / "garbage.crl"
        garbage.write_bytes(b"\x30\x82\x01\x00garbage")
        r = self.import_crl(garbage, check=False)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("neither PEM nor a DER CertificateList", r.stderr)
        self.assertEqual(self.audit_count(), audit)
        self.assertIn("hold", self.show(self.held_serial))

        responder = None
        if self.with_responder:
            responder = Responder(self.make_dir("responder"),
                                  self.db, [responder_issuer(self.pki, "crl-only")])
            self.addCleanup(responder.close)
            rc, out = ocsp_query(responder.url, self.pki.ca_cert,
                                 serials=[self.compromised_serial, self.held_serial, self.never_serial])
            self.assertRegex(out, rf"0x{self.compromised_serial}: revoked")
            self.assertIn("Reason: keyCompromise", out)
            self.assertRegex(out, rf"0x{self.held_serial}: revoked")
            self.assertRegex(out, rf"0x{self.never_serial}: unknown")

        # A delta CRL on top of 0x11 lifts the hold (removeFromCRL) and revokes the third certificate.
        delta = self.root / "delta.der"
        delta.write_bytes(delta_crl(self.pki, 0x12, 0x11, removed=[self.held_serial]))
        r = self.import_crl(delta)
        self.assertIn("delta CRL 0x12 (base 0x11)", r.stdout)
        self.assertIn("1 holds lifted", r.stdout)
        self.assertIn("good", self.show(self.held_serial))
        # removeFromCRL of a permanent revocation: kept, with a warning.
        bad = self.root / "bad-delta.der"
        bad.write_bytes(delta_crl(self.pki, 0x13, 0x11, removed=[self.compromised_serial]))
        r = self.import_crl(bad)
        self.assertIn("never lifted", r.stderr)
        self.assertRegex(self.show(self.compromised_serial), r"(?s)revoked.*keyCompromise")

        if responder:
            # Importing the certificate that no CRL listed makes it known: good.
            ctl(self.db, "import-certs", "--issuer", self.pki.ca_cert, self.never)
            responder.wait_for_index_changes()
            rc, out = ocsp_query(responder.url, self.pki.ca_cert, serials=[self.held_serial, self.never_serial])
            self.assertRegex(out, rf"0x{self.held_serial}: good")
            self.assertRegex(out, rf"0x{self.never_serial}: good")

    def make_dir(self, name):
        d = self.root / f"{name}-{type(self).__name__}"
        d.mkdir()
        return d


@unittest.skipUnless(postgres_testlib.available(), "PostgreSQL is not installed")
class ImportCrlOnPostgres(ImportCrl):
    with_responder = False

    @classmethod
    def new_database(cls):
        return postgres_testlib.fresh_database("import_crl")


if __name__ == "__main__":
    unittest.main(verbosity=2)
