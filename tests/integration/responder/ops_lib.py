"""Helpers for the operations tests of ocsp-responder: a launcher that keeps stdout and stderr apart,
takes any [log] settings, extra environment (NOTIFY_SOCKET) and a command prefix (setpriv to run as
another user), and waits on conditions instead of sleeping."""
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib"))
from ocspkit_testlib import RESPONDER  # noqa: E402


def wait_for(predicate, timeout=10.0, what="condition"):
    """Polls predicate() until it returns something truthy; returns that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def config_text(database, issuers, log_format=None, access_log=False, level="info", change_poll="100ms"):
    lines = [f'database = "{database}"', "", "[server]", 'listen = ["127.0.0.1:0"]', f'change_poll = "{change_poll}"',
             "", "[log]", f'level = "{level}"', f"access_log = {str(access_log).lower()}"]
    if log_format:
        lines.append(f'format = "{log_format}"')
    lines.append("")
    for issuer in issuers:
        lines.append("[[issuer]]")
        for k, v in issuer.items():
            lines.append(f'{k} = "{v}"' if isinstance(v, str) else f"{k} = {str(v).lower()}")
        lines.append("")
    return "\n".join(lines)


class Daemon:
    """ocsp-responder with its own config text; stdout and stderr to separate files."""

    def __init__(self, workdir: Path, config: str, env=None, prefix=(), wait_ready=True):
        self.workdir = Path(workdir)
        self.config = self.workdir / "responder.toml"
        self.config.write_text(config)
        self.ready = self.workdir / "responder.ready"
        self.stdout_path = self.workdir / "stdout.log"
        self.stderr_path = self.workdir / "stderr.log"
        self._out = open(self.stdout_path, "wb")
        self._err = open(self.stderr_path, "wb")
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.proc = subprocess.Popen([*prefix, RESPONDER, "--config", str(self.config), "--ready-file",
                                      str(self.ready)], stdout=self._out, stderr=self._err, env=full_env,
                                     start_new_session=True)
        self.port = None
        if wait_ready:
            self.wait_ready()

    def wait_ready(self, timeout=20):
        def up():
            if self.proc.poll() is not None:
                raise AssertionError(f"ocsp-responder exited {self.proc.returncode}:\n{self.stderr()}")
            return self.ready.exists() and self.ready.read_text().strip()
        first = wait_for(up, timeout, "the ready file").splitlines()[0]
        self.port = int(first.rsplit(":", 1)[1])
        self.url = f"http://127.0.0.1:{self.port}"

    def stderr(self):
        if not self._err.closed:
            self._err.flush()
        return self.stderr_path.read_text(errors="replace")

    def stdout(self):
        if not self._out.closed:
            self._out.flush()
        return self.stdout_path.read_text(errors="replace")

    def wait_for_log(self, needle, timeout=10):
        return wait_for(lambda: needle in self.stderr(), timeout, f"log line containing {needle!r}")

    def get(self, path, method="GET"):
        """(status, headers dict, body bytes) of one request; HTTP errors are answers too."""
        req = urllib.request.Request(self.url + path, method=method)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def signal(self, signo):
        self.proc.send_signal(signo)

    def close(self):
        """SIGTERM; a responder that does not exit 0 within 10 s fails the test (after a SIGKILL)."""
        hung = False
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                hung = True
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if not self._out.closed:
            self._out.close()
            self._err.close()
            if hung:
                raise AssertionError(f"ocsp-responder did not stop within 10 s of SIGTERM:\n{self.stderr()}")
