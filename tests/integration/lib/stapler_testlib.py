"""Helpers for the ocsp-stapler integration tests: the daemon started from a generated TOML config,
the example TLS server that staples from its shared-memory cache, and readers for what clients see.

Every process is started in its own session and stopped by `close()` (SIGTERM, then SIGKILL of its
process group); tests register `close` with addCleanup. All paths are in the test's temp dir, all
sockets on 127.0.0.1.
"""
import json
import os
import re
import select
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from ocspkit_testlib import free_port, run

STAPLER = os.environ.get("OCSPKIT_STAPLER", "ocsp-stapler")
STAPLE_SERVER = os.environ.get("OCSPKIT_STAPLE_SERVER", "staple-example-server")


# --- TOML ------------------------------------------------------------------------------------------

def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return json.dumps(str(v))  # a JSON string is a valid TOML basic string


def toml_table(header, values):
    lines = [header]
    lines += [f"{k} = {toml_value(v)}" for k, v in values.items() if v is not None]
    return "\n".join(lines) + "\n\n"


# --- PKI additions ---------------------------------------------------------------------------------

def add_must_staple_section(pki, name="must_staple"):
    """Adds an `openssl ca` extension section to the Pki's config: the leaf extensions plus TLS Feature
    status_request (RFC 7633 Must-Staple). Returns its name, for `pki.issue(cn, extensions=name)`."""
    aia = f"authorityInfoAccess = OCSP;URI:{pki.ocsp_url}\n" if pki.ocsp_url else ""
    with open(pki.cnf, "a") as f:
        f.write(f"""
[ {name} ]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth,clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
tlsfeature = status_request
{aia}""")
    return name


def issue_server_cert(pki, root, cn, extensions="leaf"):
    """A "localhost" server certificate; returns dict(cert, key, chain (leaf + CA), serial)."""
    cert, key, serial = pki.issue(cn, extensions=extensions, san="DNS:localhost")
    chain = Path(root) / f"{cn}-chain.pem"
    chain.write_text(Path(cert).read_text() + pki.ca_cert.read_text())
    return {"cert": Path(cert), "key": Path(key), "chain": chain, "serial": serial, "name": cn}


# --- processes -------------------------------------------------------------------------------------

def _stop(proc, sig=signal.SIGTERM, timeout=10):
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


class Stapler:
    """ocsp-stapler with a config written from parameters.

    `certificates`: list of dicts, each becoming a [[certificate]] table (keys as in the config:
    name, chain, issuer, responder_url, nginx_file, haproxy, policy, timeout, ...). `stapler`,
    `defaults`, `nginx`, `haproxy` override or add keys of those tables; `directories` are
    [[directory]] tables; `proxy` the [proxy] table's keys and `proxy_issuers` its [[proxy.issuer]]s. Paths for state, shm, control socket and the metrics port are chosen here.
    """

    def __init__(self, workdir, certificates=(), stapler=None, defaults=None, nginx=None, haproxy=None,
                 directories=(), start=True, ready_timeout=30, log=None, proxy=None, proxy_issuers=()):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.config = self.dir / "stapler.toml"
        self.ready_file = self.dir / "stapler.ready"
        self.log_path = self.dir / "stapler.log"
        self.state_dir = self.dir / "state"
        self.shm_path = self.dir / "staples"
        self.control_socket = self.dir / "control.sock"
        self.metrics_port = free_port()
        self.stapler_settings = {
            "state_dir": str(self.state_dir),
            "shm_path": str(self.shm_path),
            "shm_capacity": 64,
            "control_socket": str(self.control_socket),
            "metrics_listen": f"127.0.0.1:{self.metrics_port}",
            "min_refresh_interval": "1s",
            "retry_initial": "200ms",
            "retry_max": "2s",
            "startup_timeout": "5s",
            "log_level": "debug",
        }
        self.stapler_settings.update(stapler or {})
        # A [log] table replaces the deprecated [stapler] log_level (the daemon refuses both at once).
        self.log = dict(log) if log is not None else None
        if self.log is not None:
            self.stapler_settings.pop("log_level", None)
        self.defaults = dict(defaults or {})
        self.nginx = nginx
        self.haproxy = haproxy
        self.certificates = [dict(c) for c in certificates]
        self.directories = [dict(d) for d in directories]
        self.proxy = dict(proxy) if proxy is not None else None
        self.proxy_issuers = [dict(i) for i in proxy_issuers]
        self.ready_timeout = ready_timeout
        self.proc = None
        self._log = None
        self.write_config()
        if start:
            self.start()

    def write_config(self):
        text = toml_table("[stapler]", self.stapler_settings)
        if self.log is not None:
            text += toml_table("[log]", self.log)
        if self.defaults:
            text += toml_table("[defaults]", self.defaults)
        if self.nginx is not None:
            text += toml_table("[nginx]", self.nginx)
        if self.haproxy is not None:
            text += toml_table("[haproxy]", self.haproxy)
        for c in self.certificates:
            text += toml_table("[[certificate]]", c)
        for d in self.directories:
            text += toml_table("[[directory]]", d)
        if self.proxy is not None:
            text += toml_table("[proxy]", self.proxy)
            for i in self.proxy_issuers:
                text += toml_table("[[proxy.issuer]]", i)
        self.config.write_text(text)

    # lifecycle
    def start(self, wait=True):
        if self.proc is not None and self.proc.poll() is None:
            raise AssertionError("ocsp-stapler already running")
        if self.ready_file.exists():
            self.ready_file.unlink()
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([STAPLER, "--config", str(self.config), "--ready-file", str(self.ready_file)],
                                     stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=None):
        deadline = time.monotonic() + (timeout or self.ready_timeout)
        while time.monotonic() < deadline:
            if self.ready_file.exists() and self.ready_file.read_text() == "ready\n":
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"ocsp-stapler exited {self.proc.returncode} before ready:\n{self.log_text()}")
            time.sleep(0.02)
        raise AssertionError(f"ocsp-stapler not ready within {timeout or self.ready_timeout} s:\n{self.log_text()}")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def sighup(self):
        self.proc.send_signal(signal.SIGHUP)

    def kill9(self):
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        self._close_log()

    def stop(self):
        """SIGTERM; returns the exit code."""
        _stop(self.proc)
        self._close_log()
        return self.proc.returncode if self.proc else None

    close = stop

    def restart(self, wait=True):
        self.stop()
        return self.start(wait=wait)

    def _close_log(self):
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_text(self):
        if self._log is not None:
            self._log.flush()
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    # the daemon's own command line
    def cli(self, *args, timeout=60):
        return run([STAPLER, *args[:1], "--config", str(self.config), *args[1:]], check=False, timeout=timeout)

    def status_json(self):
        """(exit code, parsed JSON or None, CompletedProcess)."""
        r = self.cli("status", "--json")
        try:
            doc = json.loads(r.stdout)
        except ValueError:
            doc = None
        return r.returncode, doc, r

    def cert_status(self, name):
        rc, doc, r = self.status_json()
        if doc is None:
            raise AssertionError(f"status --json gave no JSON (exit {rc}):\n{r.stdout}\n{r.stderr}")
        for c in doc.get("certificates", []):
            if c.get("name") == name:
                return c
        raise AssertionError(f"no certificate {name!r} in status: {doc}")

    def refresh(self, name=None, timeout=60):
        """`ocsp-stapler refresh [NAME]`: (exit code, stdout+stderr)."""
        r = self.cli("refresh", *([name] if name else []), timeout=timeout)
        return r.returncode, r.stdout + r.stderr

    def metrics_text(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as resp:
            return resp.read().decode()

    def metrics(self):
        return parse_metrics(self.metrics_text())

    def http(self, path, method="GET"):
        """(status, headers, body text) of one request to the metrics listener; 4xx/5xx included."""
        req = urllib.request.Request(f"http://127.0.0.1:{self.metrics_port}{path}", method=method)
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                return resp.status, dict(resp.headers), resp.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read().decode()

    def metric(self, name, default=0.0, **labels):
        return metric_value(self.metrics(), name, default, **labels)

    def persisted(self, name):
        return self.state_dir / f"{name}.der"

    def sighup_and_wait(self, timeout=10.0):
        """SIGHUP, then waits for the daemon to log that it reloaded the configuration (or refused to)."""
        done = ("SIGHUP: configuration reloaded", "SIGHUP: configuration not reloaded")
        before = sum(self.log_text().count(d) for d in done)
        self.sighup()
        self.wait_for(lambda: sum(self.log_text().count(d) for d in done) > before, "the SIGHUP reload", timeout)

    def wait_for(self, predicate, what, timeout=10.0, interval=0.1):
        """Polls predicate() until it returns a true value (returned), else fails with `what` and the log."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = predicate()
            if last:
                return last
            time.sleep(interval)
        raise AssertionError(f"timed out ({timeout} s) waiting for {what} (last: {last!r})\n--- stapler log ---\n"
                             + self.log_text()[-6000:])


class StapleServer:
    """deploy/examples/staple_server.c: `staple-example-server CHAIN KEY CACHE PORT [options]`
    (`extra_args`: its --client-* options for the mTLS mode)."""

    def __init__(self, workdir, chain, key, cache, port=0, extra_args=()):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.dir / f"staple-server-{time.monotonic_ns()}.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([STAPLE_SERVER, str(chain), str(key), str(cache), str(port),
                                      *[str(a) for a in extra_args]],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._log,
                                     start_new_session=True)
        self.port = None
        line = b""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not line.endswith(b"\n"):
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.1)
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 256)
                if not chunk:
                    break
                line += chunk
            elif self.proc.poll() is not None:
                break
        m = re.match(rb"listening on (\d+)", line)
        if not m:
            self.close()
            raise AssertionError(f"staple-example-server did not start ({line!r}):\n{self.log_text()}")
        self.port = int(m.group(1))
        # The server prints a line or two per connection in its mTLS mode: a thread keeps reading them,
        # so that a busy server never blocks on a full pipe.
        self._output = [line[m.end():].lstrip(b"\n").decode("utf-8", "replace")]
        self._output_changed = threading.Condition()
        self._reader = threading.Thread(target=self._read_stdout, daemon=True)
        self._reader.start()
        self._read_upto = 0

    def _read_stdout(self):
        while True:
            chunk = os.read(self.proc.stdout.fileno(), 4096)
            with self._output_changed:
                if chunk:
                    self._output.append(chunk.decode("utf-8", "replace"))
                self._output_changed.notify_all()
            if not chunk:
                return

    @property
    def output(self):
        with self._output_changed:
            return "".join(self._output)

    def alive(self):
        return self.proc.poll() is None

    def read_output(self, until=None, timeout=10.0):
        """The server's stdout since the previous call, once the regex `until` matches it (or, without
        `until`, what is there now; after `timeout`, whatever came)."""
        deadline = time.monotonic() + timeout
        with self._output_changed:
            while True:
                new = "".join(self._output)[self._read_upto:]
                if until is None or re.search(until, new) or not self._reader.is_alive():
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._output_changed.wait(left)
            self._read_upto += len(new)
            return new

    def log_text(self):
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def close(self):
        _stop(self.proc)
        self._reader.join(timeout=5)  # EOF once the server is gone
        self.proc.stdout.close()
        self._log.close()


# --- what clients see ------------------------------------------------------------------------------

def s_client(port, ca_file, servername="localhost", wait_close=True, timeout=15):
    """One `openssl s_client -status` handshake; returns stdout+stderr text. With wait_close the client
    reads until the server closes (the example server writes "hello" and closes)."""
    cmd = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", servername, "-status",
           "-CAfile", str(ca_file)]
    if wait_close:
        cmd.append("-ign_eof")
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    return proc.stdout.decode("utf-8", "replace") + proc.stderr.decode("utf-8", "replace")


class Handshake:
    """What `openssl s_client -status` reported about one handshake."""

    def __init__(self, text):
        self.text = text
        self.completed = ("Verify return code: 0 (ok)" in text and "Cipher is (NONE)" not in text)
        self.refused = not self.completed and bool(re.search(r"alert|handshake failure|errno", text, re.I))
        self.no_staple = "OCSP response: no response sent" in text
        self.stapled = "OCSP Response Status: successful" in text
        m = re.search(r"Cert Status: (\w+)", text)
        self.cert_status = m.group(1) if m else None
        self.fingerprint = response_fingerprint(text) if self.stapled else None

    def summary(self):
        keep = [line for line in self.text.splitlines()
                if re.search(r"OCSP|Status|Update|Verify return|alert|error|Cipher is|Revocation", line)]
        return "\n".join(keep)


def handshake(port, ca_file, **kw):
    return Handshake(s_client(port, ca_file, **kw))


def response_fingerprint(text):
    """The fields that identify one OCSP response in OpenSSL's printout (s_client -status or
    `openssl ocsp -resp_text`): produced at, this/next update, status and the signature bytes."""
    fields = []
    for key in ("Produced At", "This Update", "Next Update", "Cert Status"):
        m = re.search(rf"{key}: (.+)", text)
        fields.append(m.group(1).strip() if m else None)
    sig = []
    # The signature is the hex dump after the last "Signature Algorithm" line of the response.
    after = re.split(r"Signature Algorithm: .*\n", text)
    if len(after) > 1:
        for line in after[-1].splitlines():
            line = line.strip()
            if re.fullmatch(r"([0-9a-f]{2}:)*[0-9a-f]{2}:?", line):
                sig.append(line)
            elif sig:
                break
    return tuple(fields) + ("".join(sig),)


def response_text(der_path):
    return run(["openssl", "ocsp", "-respin", str(der_path), "-resp_text", "-noverify"], check=False).stdout


def verify_response(der_path, issuer, leaf):
    """`openssl ocsp -respin` checking signature (against the CA) and the leaf's CertID; returns text."""
    r = run(["openssl", "ocsp", "-respin", str(der_path), "-issuer", str(issuer), "-cert", str(leaf),
             "-CAfile", str(issuer), "-resp_text"], check=False)
    return r.returncode, r.stdout + r.stderr


# --- Prometheus text -------------------------------------------------------------------------------

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    """{(name, frozenset(labels.items())): value}"""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if not m:
            continue
        labels = frozenset(_LABEL.findall(m.group(2) or ""))
        try:
            out[(m.group(1), labels)] = float(m.group(3))
        except ValueError:
            pass
    return out


def metric_value(metrics, name, default=0.0, **labels):
    """The sample of `name` whose labels include `labels` (exactly one, else the sum of all matching)."""
    want = set(labels.items())
    values = [v for (n, ls), v in metrics.items() if n == name and want <= set(ls)]
    return sum(values) if values else default


# --- test fixtures -------------------------------------------------------------------------------

class StaplerFixtures:
    """Mixed into unittest.TestCase classes: a PKI whose server certificates carry an AIA OCSP URL of a
    responder on a port picked in advance, an index imported from it, optionally that ocsp-responder,
    and starters for the processes a test needs (each stopped by a cleanup)."""

    @classmethod
    def build_pki(cls, ca_name, leaves, must_staple=(), responder=True, validity=None, backdate=None):
        import tempfile
        from ocspkit_testlib import Index, Pki, Responder
        cls.tmp = tempfile.TemporaryDirectory(prefix="ocspkit-stapler-")
        cls.addClassCleanup(cls.tmp.cleanup)
        cls.root = Path(cls.tmp.name)
        cls.responder_port = free_port()
        cls.pki = Pki(cls.root, ca_name, key="ec", ocsp_url=f"http://127.0.0.1:{cls.responder_port}/")
        ms = add_must_staple_section(cls.pki)
        cls.certs = {}
        for name in leaves:
            cls.certs[name] = issue_server_cert(cls.pki, cls.root, name)
        for name in must_staple:
            cls.certs[name] = issue_server_cert(cls.pki, cls.root, name, extensions=ms)
        cls.db = cls.root / "index.db"
        cls.index = Index(cls.db)
        cls.index.add_pki(cls.pki)
        cls.issuer_conf = {"name": ca_name.replace(" ", "-"), "ca": str(cls.pki.ca_cert),
                           "signer_key": str(cls.pki.ca_key)}
        if validity:
            cls.issuer_conf["validity"] = validity
        if backdate:
            cls.issuer_conf["backdate"] = backdate
        cls.responder = None
        if responder:
            cls.start_responder()

    @classmethod
    def start_responder(cls):
        from ocspkit_testlib import Responder
        workdir = cls.root / f"responder-{time.monotonic_ns()}"
        workdir.mkdir()
        cls.responder = Responder(workdir, cls.db, [cls.issuer_conf], port=cls.responder_port)
        cls.addClassCleanup(cls.responder.close)
        return cls.responder

    def workdir(self, name):
        import tempfile
        return Path(tempfile.mkdtemp(prefix=f"{name}-", dir=self.root))

    def start_stapler(self, certificates, **kw):
        s = Stapler(self.workdir("stapler"), certificates, start=False, **kw)
        self.addCleanup(s.close)
        s.start()
        return s

    def start_server(self, name, stapler_or_cache):
        cache = stapler_or_cache.shm_path if isinstance(stapler_or_cache, Stapler) else stapler_or_cache
        c = self.certs[name]
        server = StapleServer(self.workdir(f"server-{name}"), c["chain"], c["key"], cache)
        self.addCleanup(server.close)
        return server

    def start_fake(self, **kw):
        from fake_upstream import FakeUpstream
        kw.setdefault("certs", [c["cert"] for c in self.certs.values()])
        fake = FakeUpstream(self.pki.ca_cert, self.pki.ca_key, **kw)
        self.addCleanup(fake.close)
        return fake

    def revoke(self, name, reason="keyCompromise"):
        """Revokes in the index and waits until the responder's pre-signed answers are dropped."""
        from ocspkit_testlib import ocsp_query
        serial = self.certs[name]["serial"]
        self.index.ctl("revoke", serial, "--issuer", str(self.pki.ca_cert), "--reason", reason)
        if self.responder is None:
            return
        deadline = time.monotonic() + 3
        while True:
            # Without a nonce, as the stapler asks: the responder's cached answer, which its change
            # watcher drops within change_poll (100 ms) of the revocation. A nonce would bypass that cache.
            rc, out = ocsp_query(self.responder.url, self.pki.ca_cert, serials=[serial], extra=["-no_nonce"])
            if re.search(rf"0x{serial}: revoked", out):
                return
            if time.monotonic() > deadline:
                raise AssertionError("responder did not answer revoked within 3 s:\n" + out)
            time.sleep(0.05)

    def assert_responder_alive(self):
        if self.responder is not None and not self.responder.alive():
            raise AssertionError(f"ocsp-responder exited {self.responder.proc.returncode} "
                                 f"(negative: killed by that signal):\n{self.responder.log_text()}")

    def assert_stapled(self, hs, status="good", msg=""):
        self.assertTrue(hs.completed, f"handshake failed {msg}:\n{hs.summary()}")
        self.assertTrue(hs.stapled, f"no staple {msg}:\n{hs.summary()}")
        self.assertEqual(hs.cert_status, status, f"{msg}\n{hs.summary()}")
