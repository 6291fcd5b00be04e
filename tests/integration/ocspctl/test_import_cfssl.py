"""`ocspctl import-cfssl` against certdbs filled by a real CFSSL CA (Debian's golang-cfssl): `cfssl
gencert -initca`, `cfssl gencert`/`cfssl sign -db-config` writing rows, `cfssl revoke` revoking them.
Debian ships no certdb migrations, so the test creates CFSSL's `certificates` table itself, with
CFSSL's column types (SQLite: blob/timestamp; PostgreSQL: bytea/timestamptz). cfssl 1.2 writes an
empty authority_key_identifier, and `cfssl revoke` needs one, so two rows get the CA's key id (as newer
CFSSL writes it) before they are revoked: both ways of matching the issuer are exercised. Checks what
the index says, that a second run changes nothing, that a row of an unregistered CA is reported and
left out, that a permanent revocation is not turned into a hold by a later `cfssl revoke`, and what
`openssl ocsp` gets from a responder over the result. Runs once with a SQLite certdb and index, once
with both on PostgreSQL."""
import json
import shutil
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib"))
import postgres_testlib  # noqa: E402
from ocspkit_testlib import OCSPCTL, Responder, ocsp_query, run  # noqa: E402

SQLITE_SCHEMA = """CREATE TABLE certificates (
  serial_number blob NOT NULL, authority_key_identifier blob NOT NULL, ca_label blob, status blob NOT NULL,
  reason int, expiry timestamp, revoked_at timestamp, pem blob NOT NULL,
  PRIMARY KEY (serial_number, authority_key_identifier));"""
POSTGRES_SCHEMA = """CREATE TABLE certificates (
  serial_number bytea NOT NULL, authority_key_identifier bytea NOT NULL, ca_label bytea, status bytea NOT NULL,
  reason int, expiry timestamptz, revoked_at timestamptz, pem bytea NOT NULL,
  PRIMARY KEY (serial_number, authority_key_identifier));"""


def ctl(db, *args, check=True):
    return run([OCSPCTL, *map(str, args), "--db", str(db)], check=check)


class CfsslCa:
    """A CFSSL CA in `root`, writing issued certificates into the certdb that db_config names."""

    def __init__(self, root: Path, name, db_config):
        self.dir = root / name.replace(" ", "_")
        self.dir.mkdir(parents=True)
        self.db_config = db_config
        (self.dir / "csr.json").write_text(json.dumps(
            {"CN": name, "key": {"algo": "ecdsa", "size": 256}, "names": [{"O": "ocspkit tests"}]}))
        initca = run(["cfssl", "gencert", "-initca", str(self.dir / "csr.json")])
        self._write(json.loads(initca.stdout), "ca")
        self.cert = self.dir / "ca.pem"
        ski = run(["openssl", "x509", "-in", str(self.cert), "-noout", "-ext", "subjectKeyIdentifier"]).stdout
        self.key_id = ski.strip().splitlines()[-1].strip().replace(":", "").lower()

    def _write(self, out, stem):
        (self.dir / f"{stem}.pem").write_text(out["cert"])
        if "key" in out:
            key = self.dir / f"{stem}-key.pem"
            key.write_text(out["key"])
            key.chmod(0o600)

    def issue(self, cn, via_sign=False):
        """Issues a leaf, recorded in the certdb; returns (cert path, decimal serial, hex serial)."""
        (self.dir / f"{cn}.json").write_text(json.dumps(
            {"CN": cn, "hosts": [cn], "key": {"algo": "ecdsa", "size": 256}}))
        ca = ["-ca", str(self.cert), "-ca-key", str(self.dir / "ca-key.pem"), "-db-config", str(self.db_config)]
        if via_sign:
            key = json.loads(run(["cfssl", "genkey", str(self.dir / f"{cn}.json")]).stdout)
            (self.dir / f"{cn}.csr").write_text(key["csr"])
            out = json.loads(run(["cfssl", "sign", *ca, str(self.dir / f"{cn}.csr")]).stdout)
        else:
            out = json.loads(run(["cfssl", "gencert", *ca, str(self.dir / f"{cn}.json")]).stdout)
        self._write(out, cn)
        path = self.dir / f"{cn}.pem"
        hex_serial = run(["openssl", "x509", "-in", str(path), "-noout", "-serial"]).stdout.strip().split("=")[1]
        return path, str(int(hex_serial, 16)), hex_serial

    def revoke(self, serial, reason):
        run(["cfssl", "revoke", "-db-config", str(self.db_config), "-serial", serial, "-aki", self.key_id,
             "-reason", reason])


@unittest.skipUnless(shutil.which("cfssl"), "cfssl (Debian golang-cfssl) is not installed")
class ImportCfssl(unittest.TestCase):
    @classmethod
    def make_certdb(cls):
        """CFSSL's certdb as a SQLite file; returns (what -db-config says, what --certdb says, sql runner)."""
        path = cls.root / "certs.db"
        import sqlite3
        with sqlite3.connect(path) as db:
            db.executescript(SQLITE_SCHEMA)

        def sql(statement):
            with sqlite3.connect(path) as db:
                db.execute(statement)
        return {"driver": "sqlite3", "data_source": str(path)}, str(path), sql

    @classmethod
    def new_index(cls):
        return cls.root / "index.db"

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="ocspkit-cfssl-")
        cls.addClassCleanup(cls.tmp.cleanup)
        cls.root = Path(cls.tmp.name)
        config, cls.certdb, cls.sql = cls.make_certdb()
        db_config = cls.root / "db-config.json"
        db_config.write_text(json.dumps(config))
        cls.ca = CfsslCa(cls.root, "CFSSL Test CA", db_config)
        cls.other = CfsslCa(cls.root, "Unregistered CFSSL CA", db_config)
        cls.good = cls.ca.issue("good.example")
        cls.compromised = cls.ca.issue("compromised.example", via_sign=True)
        cls.held = cls.ca.issue("held.example")
        cls.other.issue("other.example")
        # cfssl 1.2 leaves authority_key_identifier empty, and `cfssl revoke` needs it: set it as newer
        # CFSSL versions write it (lower-case hex of the CA's key id), then revoke with cfssl itself.
        for _, serial, _ in (cls.compromised, cls.held):
            cls.sql(f"UPDATE certificates SET authority_key_identifier = '{cls.ca.key_id}' "
                    f"WHERE serial_number = '{serial}'")
        cls.ca.revoke(cls.compromised[1], "keyCompromise")
        cls.ca.revoke(cls.held[1], "certificateHold")
        cls.index = cls.new_index()
        ctl(cls.index, "init")
        ctl(cls.index, "issuer", "add", cls.ca.cert)

    def show(self, hex_serial):
        return ctl(self.index, "show", hex_serial, "--issuer", self.ca.cert).stdout

    def test_import_is_faithful_idempotent_and_keeps_permanent_revocations(self):
        r = ctl(self.index, "import-cfssl", "--certdb", self.certdb)
        self.assertIn("4 rows: 3 inserted", r.stdout)
        self.assertIn("1 of unregistered CAs", r.stdout)
        self.assertIn("not imported: ", r.stderr)
        self.assertIn("Unregistered CFSSL CA", r.stderr)
        self.assertIn("good", self.show(self.good[2]))
        self.assertRegex(self.show(self.compromised[2]), r"(?s)revoked.*keyCompromise")
        self.assertIn("hold", self.show(self.held[2]))
        # The certificates came along: subject and notAfter are shown.
        self.assertIn("good.example", self.show(self.good[2]))

        again = ctl(self.index, "import-cfssl", "--certdb", self.certdb)
        self.assertIn("3 unchanged", again.stdout)

        # CFSSL lets a revoked certificate be "revoked" again as certificateHold; the index keeps the
        # permanent revocation and says so.
        self.ca.revoke(self.compromised[1], "certificateHold")
        r = ctl(self.index, "import-cfssl", "--certdb", self.certdb)
        self.assertIn("1 conflicts kept", r.stdout)
        self.assertIn(self.compromised[1], r.stderr)
        self.assertRegex(self.show(self.compromised[2]), r"(?s)revoked.*keyCompromise")

        responder_dir = self.root / f"responder-{type(self).__name__}"
        responder_dir.mkdir()
        responder = Responder(responder_dir, self.index, [{"name": "cfssl", "ca": str(self.ca.cert),
                                                           "signer_key": str(self.ca.dir / "ca-key.pem")}])
        self.addCleanup(responder.close)
        rc, out = ocsp_query(responder.url, self.ca.cert, serials=[self.good[2], self.compromised[2], self.held[2]],
                             ca_file=self.ca.cert)
        self.assertEqual(rc, 0, out)
        self.assertIn("Response verify OK", out)
        self.assertRegex(out, rf"0x{self.good[2]}: good")
        self.assertRegex(out, rf"0x{self.compromised[2]}: revoked")
        self.assertIn("Reason: keyCompromise", out)
        self.assertRegex(out, rf"0x{self.held[2]}: revoked")
        self.assertIn("Reason: certificateHold", out)

    def test_refusals(self):
        r = ctl(self.index, "import-cfssl", "--certdb", self.root / "missing.db", check=False)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("missing.db", r.stderr)
        not_cfssl = self.root / "not-cfssl.db"
        ctl(not_cfssl, "init")
        r = ctl(self.index, "import-cfssl", "--certdb", not_cfssl, check=False)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("no `certificates` table with CFSSL's columns", r.stderr)


@unittest.skipUnless(shutil.which("cfssl") and postgres_testlib.available(), "cfssl or PostgreSQL not installed")
class ImportCfsslOnPostgres(ImportCfssl):
    @classmethod
    def make_certdb(cls):
        conninfo = postgres_testlib.fresh_database("cfssl_certdb")
        server = postgres_testlib.shared_server()
        server.psql(POSTGRES_SCHEMA, conninfo)
        return ({"driver": "postgres", "data_source": conninfo + " sslmode=disable"}, conninfo,
                lambda statement: server.psql(statement, conninfo))

    @classmethod
    def new_index(cls):
        return postgres_testlib.fresh_database("cfssl_index")


if __name__ == "__main__":
    unittest.main(verbosity=2)
