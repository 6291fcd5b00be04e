"""Shared helpers for integration tests: a run-time PKI made with the openssl CLI, an index filled
with ocspctl, and an ocsp-responder process on a loopback port that stops with the test."""
import base64
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse
from pathlib import Path

OCSPCTL = os.environ.get("OCSPKIT_OCSPCTL", "ocspctl")
RESPONDER = os.environ.get("OCSPKIT_RESPONDER", "ocsp-responder")


def run(cmd, check=True, input=None, timeout=60, cwd=None, env=None):
    """Runs a command (list), returns CompletedProcess with text stdout/stderr."""
    proc = subprocess.run(cmd, input=input, capture_output=True, timeout=timeout, cwd=cwd, env=env)
    out = proc.stdout.decode("utf-8", "replace") if isinstance(proc.stdout, bytes) else proc.stdout
    err = proc.stderr.decode("utf-8", "replace") if isinstance(proc.stderr, bytes) else proc.stderr
    result = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    result.raw_stdout = proc.stdout
    if check and proc.returncode != 0:
        raise AssertionError(f"command failed ({proc.returncode}): {' '.join(map(str, cmd))}\n{out}\n{err}")
    return result


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Pki:
    """A CA (RSA or EC) with an OpenSSL `ca` database, leaves and an optional delegated OCSP signer."""

    def __init__(self, root: Path, name="Test CA", key="ec", ocsp_url=None):
        self.dir = Path(root) / name.replace(" ", "_")
        self.dir.mkdir(parents=True)
        self.name = name
        self.key_alg = key
        self.ocsp_url = ocsp_url
        (self.dir / "index.txt").write_text("")
        (self.dir / "serial").write_text("1000\n")
        (self.dir / "certs").mkdir()
        self.ca_key = self.dir / "ca.key"
        self.ca_cert = self.dir / "ca.pem"
        self._genkey(self.ca_key)
        self._write_config()
        run(["openssl", "req", "-new", "-x509", "-key", str(self.ca_key), "-out", str(self.ca_cert),
             "-days", "3650", "-subj", f"/O=ocspkit tests/CN={name}", "-config", str(self.cnf),
             "-extensions", "v3_ca"])

    def _genkey(self, path):
        if self.key_alg == "rsa":
            run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(path)])
        elif self.key_alg == "ed25519":
            run(["openssl", "genpkey", "-algorithm", "ED25519", "-out", str(path)])
        else:
            run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(path)])
        os.chmod(path, 0o600)

    def _write_config(self):
        self.cnf = self.dir / "ca.cnf"
        aia = f"authorityInfoAccess = OCSP;URI:{self.ocsp_url}\n" if self.ocsp_url else ""
        self.cnf.write_text(f"""
[ ca ]
default_ca = testca
[ testca ]
dir = {self.dir}
database = $dir/index.txt
new_certs_dir = $dir/certs
serial = $dir/serial
certificate = $dir/ca.pem
private_key = $dir/ca.key
default_md = sha256
default_days = 365
policy = policy_any
unique_subject = no
copy_extensions = copy
[ policy_any ]
commonName = supplied
organizationName = optional
[ req ]
distinguished_name = dn
[ dn ]
[ v3_ca ]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[ leaf ]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth,clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
{aia}
[ ocsp_signer ]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = OCSPSigning
noCheck = ignored
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
""")

    def issue(self, cn, extensions="leaf", san=None, days=365):
        """Issues a certificate with `openssl ca`; returns (cert_path, key_path, serial_hex)."""
        key = self.dir / f"{cn}.key"
        csr = self.dir / f"{cn}.csr"
        cert = self.dir / f"{cn}.pem"
        self._genkey(key)
        req = ["openssl", "req", "-new", "-key", str(key), "-out", str(csr), "-subj", f"/CN={cn}",
               "-config", str(self.cnf)]
        if san:
            req += ["-addext", f"subjectAltName={san}"]
        run(req)
        run(["openssl", "ca", "-batch", "-config", str(self.cnf), "-extensions", extensions, "-days", str(days),
             "-in", str(csr), "-out", str(cert), "-notext"])
        serial = run(["openssl", "x509", "-in", str(cert), "-noout", "-serial"]).stdout.strip().split("=")[1]
        return cert, key, serial

    def revoke(self, cert, *extra):
        run(["openssl", "ca", "-config", str(self.cnf), "-revoke", str(cert), *extra])

    def index(self):
        return self.dir / "index.txt"


class Index:
    """An ocspctl database in a temp dir."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.ctl("init")

    def ctl(self, *args, check=True):
        return run([OCSPCTL, *args, "--db", str(self.path)], check=check)

    def add_pki(self, pki):
        """Registers pki's CA and imports its openssl `ca` index.txt."""
        self.ctl("issuer", "add", str(pki.ca_cert))
        self.ctl("import-index", "--issuer", str(pki.ca_cert), str(pki.index()))


def responder_issuer(pki, name, delegated_signer=False, signer_cn="ocsp-signer"):
    """An [[issuer]] table for Responder: signing with pki's CA key, or with a delegated OCSP signer
    issued now under the common name signer_cn."""
    issuer = {"name": name, "ca": str(pki.ca_cert)}
    if delegated_signer:
        signer, signer_key, _ = pki.issue(signer_cn, extensions="ocsp_signer")
        issuer.update(signer_cert=str(signer), signer_key=str(signer_key))
    else:
        issuer["signer_key"] = str(pki.ca_key)
    return issuer


class Responder:
    """ocsp-responder started on a loopback port with a generated TOML config; stops on close()."""

    def __init__(self, workdir: Path, database: Path, issuers, extra_server="", log_level="warn", port=0,
                 extra_toml=""):
        self.workdir = Path(workdir)
        self.port = None
        self.ready = self.workdir / "responder.ready"
        self.config = self.workdir / "responder.toml"
        lines = [f'database = "{database}"', "", "[server]", f'listen = ["127.0.0.1:{port}"]', 'change_poll = "100ms"',
                 extra_server, "", "[log]", f'level = "{log_level}"', "access_log = false", "", extra_toml, ""]
        for issuer in issuers:
            lines.append("[[issuer]]")
            for k, v in issuer.items():
                lines.append(f"{k} = {v!r}".replace("'", '"') if isinstance(v, str) else f"{k} = {str(v).lower()}")
            lines.append("")
        self.config.write_text("\n".join(lines))
        self.log = open(self.workdir / "responder.log", "wb")
        self.proc = subprocess.Popen([RESPONDER, "--config", str(self.config), "--ready-file", str(self.ready)],
                                     stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.ready.exists():
                first = self.ready.read_text().splitlines()[0]
                self.port = int(first.rsplit(":", 1)[1])
                break
            if self.proc.poll() is not None:
                raise AssertionError(f"ocsp-responder exited {self.proc.returncode}:\n{self.log_text()}")
            time.sleep(0.02)
        if self.port is None:
            self.close()
            raise AssertionError(f"ocsp-responder did not start:\n{self.log_text()}")
        self.url = f"http://127.0.0.1:{self.port}"
        self.database = Path(database)

    def metric(self, name):
        """The value of one unlabelled metric from /metrics, as a float."""
        import urllib.request
        with urllib.request.urlopen(f"{self.url}/metrics", timeout=5) as r:
            for line in r.read().decode().splitlines():
                if line.startswith(name + " "):
                    return float(line.split()[1])
        raise AssertionError(f"metric {name} missing")

    def wait_for_index_changes(self, timeout=3.0):
        """Waits until the change watcher has applied every change now in the index to its cache."""
        import sqlite3
        with sqlite3.connect(f"file:{self.database}?mode=ro", uri=True) as db:
            target = db.execute("SELECT value FROM change_counter WHERE id = 1").fetchone()[0]
        deadline = time.monotonic() + timeout
        while self.metric("ocsp_index_change_sequence") < target:
            if time.monotonic() > deadline:
                raise AssertionError(f"responder did not apply index change {target} within {timeout} s")
            time.sleep(0.02)

    def log_text(self):
        self.log.flush()
        return (self.workdir / "responder.log").read_text(errors="replace")

    def alive(self):
        return self.proc.poll() is None

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


def ocsp_query(url, issuer, serials=(), certs=(), extra=(), ca_file=None, verify_other=None, digest=None):
    """Runs `openssl ocsp` against url; returns (returncode, stdout+stderr text)."""
    cmd = ["openssl", "ocsp", "-url", url, "-issuer", str(issuer), "-timeout", "10"]
    if digest:  # openssl wants the CertID digest before -cert/-serial
        cmd += [f"-{digest}"]
    for s in serials:
        cmd += ["-serial", s if s.startswith("0x") else "0x" + s]
    for c in certs:
        cmd += ["-cert", str(c)]
    if ca_file:
        cmd += ["-CAfile", str(ca_file)]
    if verify_other:
        cmd += ["-verify_other", str(verify_other)]
    cmd += list(extra)
    r = run(cmd, check=False)
    return r.returncode, r.stdout + r.stderr


def make_request_der(issuer, serials, digest="sha1", nonce=False, workdir=None):
    out = Path(workdir or tempfile.mkdtemp()) / f"req-{digest}-{'n' if nonce else 'x'}-{'_'.join(serials)}.der"
    cmd = ["openssl", "ocsp", "-issuer", str(issuer), f"-{digest}", "-reqout", str(out)]
    for s in serials:
        cmd += ["-serial", "0x" + s]
    cmd += ["-nonce"] if nonce else ["-no_nonce"]
    run(cmd)
    return out.read_bytes()


def response_text(der: bytes, workdir: Path):
    path = Path(workdir) / "resp.der"
    path.write_bytes(der)
    return run(["openssl", "ocsp", "-respin", str(path), "-resp_text", "-noverify"], check=False).stdout


def b64_forms(der: bytes):
    """Every GET encoding real clients send, as (label, path-component) pairs."""
    std = base64.b64encode(der).decode()
    url = base64.urlsafe_b64encode(der).decode()
    return [
        ("percent-upper", urllib.parse.quote(std, safe="")),
        ("percent-lower", urllib.parse.quote(std, safe="").replace("%2B", "%2b").replace("%2F", "%2f").replace("%3D", "%3d")),
        ("raw", std),
        ("base64url", url),
        ("base64url-nopad", url.rstrip("=")),
        ("raw-nopad", std.rstrip("=")),
    ]
