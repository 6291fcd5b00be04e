"""nginx and Apache httpd launched as throw-away TLS servers for integration tests.

Each server runs in the foreground as a child of the test, from a configuration, pid file, logs and
document root inside a directory the test owns, listening on 127.0.0.1 only. `stop()` (also called by
`__exit__`) ends the server and, should it not stop within a few seconds, its whole process group.
"""
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

NGINX = os.environ.get("OCSPKIT_NGINX") or shutil.which("nginx") or "/usr/sbin/nginx"
APACHE = os.environ.get("OCSPKIT_APACHE") or shutil.which("apache2") or "/usr/sbin/apache2"
APACHE_MODULES = Path(os.environ.get("OCSPKIT_APACHE_MODULES", "/usr/lib/apache2/modules"))

PAGE_BODY = "ocspkit integration page\n"


def have_nginx():
    return os.path.isfile(NGINX) and os.access(NGINX, os.X_OK)


def have_apache():
    return (os.path.isfile(APACHE) and os.access(APACHE, os.X_OK)
            and (APACHE_MODULES / "mod_ssl.so").is_file())


def port_open(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class _Server:
    """Common start/stop/log handling; subclasses write the configuration and the command line."""

    name = "server"
    start_timeout = 10.0

    def __init__(self, workdir: Path, port: int, body=PAGE_BODY):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = port
        self.docroot = self.dir / "html"
        self.docroot.mkdir(exist_ok=True)
        (self.docroot / "index.html").write_text(body)
        self.error_log = self.dir / "error.log"
        self.console_log = self.dir / "console.log"
        self.proc = None
        self._console = None

    # subclasses
    def command(self):
        raise NotImplementedError

    def stop_signal(self):
        return signal.SIGTERM

    # lifecycle
    def start(self):
        if self.proc is not None and self.proc.poll() is None:
            raise AssertionError(f"{self.name} already running")
        self._console = open(self.console_log, "ab")
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=self._console,
                                     stderr=subprocess.STDOUT, cwd=str(self.dir), start_new_session=True)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                self._close_console()
                raise AssertionError(f"{self.name} exited {code} at start:\n{self.logs()}")
            if port_open(self.port) and self.proc.poll() is None:
                return self
            time.sleep(0.05)
        self.stop()
        raise AssertionError(f"{self.name} did not listen on 127.0.0.1:{self.port} within "
                             f"{self.start_timeout:.0f} s:\n{self.logs()}")

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(self.stop_signal())
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                # The master is not reaped yet, so its process group (the server and its workers
                # only, start_new_session) is still ours to end.
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self._close_console()
        # Wait for the listening socket to go away so that a restart can bind it again.
        deadline = time.monotonic() + 5
        while port_open(self.port) and time.monotonic() < deadline:
            time.sleep(0.05)

    def restart(self):
        self.stop()
        return self.start()

    def _close_console(self):
        if self._console is not None:
            self._console.close()
            self._console = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    # logs
    def error_log_text(self):
        return self.error_log.read_text(errors="replace") if self.error_log.exists() else ""

    def error_log_size(self):
        return self.error_log.stat().st_size if self.error_log.exists() else 0

    def error_log_since(self, offset):
        if not self.error_log.exists():
            return ""
        with open(self.error_log, "rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", "replace")

    def logs(self):
        console = self.console_log.read_text(errors="replace") if self.console_log.exists() else ""
        return f"--- {self.name} console ---\n{console}\n--- {self.name} error log ---\n{self.error_log_text()}"


class Nginx(_Server):
    """nginx with one TLS server block on 127.0.0.1:port.

    `server_directives` go inside the `server { }` block after listen/certificate lines (e.g.
    `ssl_stapling on;`); `http_directives` go in the `http { }` block."""

    name = "nginx"

    def __init__(self, workdir, port, cert, key, server_directives="", http_directives="", body=PAGE_BODY):
        super().__init__(workdir, port, body)
        self.conf = self.dir / "nginx.conf"
        self.pid_file = self.dir / "nginx.pid"
        tmp = self.dir / "tmp"
        tmp.mkdir(exist_ok=True)
        user = "user root;" if os.geteuid() == 0 else ""
        temp_paths = "\n".join(f"    {kind}_temp_path {tmp / kind};"
                               for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        self.conf.write_text(f"""{user}
worker_processes 1;
daemon off;
master_process on;
pid {self.pid_file};
error_log {self.error_log} info;
events {{
    worker_connections 128;
}}
http {{
    access_log {self.dir / "access.log"};
{temp_paths}
    default_type text/plain;
{http_directives}
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name localhost;
        root {self.docroot};
        ssl_certificate {cert};
        ssl_certificate_key {key};
{server_directives}
        location / {{
            index index.html;
        }}
    }}
}}
""")

    def command(self):
        return [NGINX, "-p", str(self.dir), "-c", str(self.conf), "-e", str(self.error_log)]

    def reload(self):
        """SIGHUP: new workers with freshly loaded certificates (and an empty OCSP staple)."""
        self.proc.send_signal(signal.SIGHUP)


class Apache(_Server):
    """Apache httpd (event MPM) with one TLS virtual host on 127.0.0.1:port.

    `vhost_directives` go inside `<VirtualHost>` after SSLEngine/certificate lines; `server_directives`
    at server level (e.g. `SSLStaplingCache`)."""

    name = "apache"

    def __init__(self, workdir, port, cert, key, vhost_directives="", server_directives="", body=PAGE_BODY):
        super().__init__(workdir, port, body)
        self.conf = self.dir / "httpd.conf"
        self.pid_file = self.dir / "httpd.pid"
        run_dir = self.dir / "run"
        run_dir.mkdir(exist_ok=True)
        modules = ["mpm_event", "authz_core", "unixd", "ssl", "socache_shmcb", "mime", "dir", "log_config"]
        # Some of these are compiled in on some builds (Debian: unixd, log_config): load only the others.
        load = "\n".join(f"<IfModule !{m}_module>\n    LoadModule {m}_module {APACHE_MODULES / f'mod_{m}.so'}\n"
                         "</IfModule>" for m in modules)
        identity = ""
        if os.geteuid() == 0:
            # httpd refuses to serve as root: its children run as nobody and must reach the docroot.
            nobody = pwd.getpwnam("nobody")
            identity = f"User #{nobody.pw_uid}\nGroup #{nobody.pw_gid}"
            self._make_traversable(self.docroot)
            os.chmod(self.docroot / "index.html", 0o644)
        types = "TypesConfig /etc/mime.types" if os.path.exists("/etc/mime.types") else ""
        self.conf.write_text(f"""ServerRoot "{self.dir}"
ServerName localhost
Listen 127.0.0.1:{port}
PidFile "{self.pid_file}"
DefaultRuntimeDir "{run_dir}"
Mutex file:{run_dir} default
{load}
{identity}
StartServers 1
ServerLimit 1
ThreadsPerChild 16
MinSpareThreads 1
MaxSpareThreads 32
MaxRequestWorkers 16
ErrorLog "{self.error_log}"
LogLevel info
LogFormat "%h %l %u %t \\"%r\\" %>s %b" common
CustomLog "{self.dir / 'access.log'}" common
{types}
DocumentRoot "{self.docroot}"
<Directory />
    Require all denied
</Directory>
<Directory "{self.docroot}">
    Require all granted
</Directory>
DirectoryIndex index.html
SSLSessionCache "shmcb:{run_dir / 'ssl_scache'}(102400)"
{server_directives}
<VirtualHost 127.0.0.1:{port}>
    ServerName localhost
    SSLEngine on
    SSLCertificateFile "{cert}"
    SSLCertificateKeyFile "{key}"
{vhost_directives}
</VirtualHost>
""")

    @staticmethod
    def _make_traversable(path):
        """Gives 'others' search permission on path and on those of its parents that this process
        owns (the test's temp dirs), so that httpd's unprivileged children reach the docroot."""
        p = Path(path).resolve()
        for d in [p, *p.parents]:
            st = d.stat()
            if st.st_mode & 0o001:
                continue
            if st.st_uid != os.geteuid():
                break
            os.chmod(d, (st.st_mode & 0o7777) | 0o011)
        os.chmod(p, 0o755)

    def command(self):
        return [APACHE, "-d", str(self.dir), "-f", str(self.conf), "-DFOREGROUND"]


def wait_for_log(server, offset, pattern, timeout=3.0):
    """Waits until the server's error log, from byte offset on, matches the regex pattern; returns that
    part of the log (whether or not it matched: callers assert on it)."""
    deadline = time.monotonic() + timeout
    while True:
        text = server.error_log_since(offset)
        if re.search(pattern, text) or time.monotonic() > deadline:
            return text
        time.sleep(0.05)


def s_client_status(port, ca_file, servername="localhost", timeout=10):
    """One TLS handshake with `openssl s_client -status`; returns its stdout+stderr text."""
    proc = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", servername,
                           "-status", "-CAfile", str(ca_file)],
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    return proc.stdout.decode("utf-8", "replace") + proc.stderr.decode("utf-8", "replace")


def curl(port, ca_file, *extra, path="/", host="localhost", timeout=20):
    """curl https://host:port/path (host resolved to 127.0.0.1); returns (returncode, http_code, body, stderr)."""
    cmd = ["curl", "-sS", "--max-time", "10", "--cacert", str(ca_file), "--resolve", f"{host}:{port}:127.0.0.1",
           "-w", "\n%{http_code}", *map(str, extra), f"https://{host}:{port}{path}"]
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    out = proc.stdout.decode("utf-8", "replace")
    body, _, code = out.rpartition("\n")
    return proc.returncode, code.strip(), body, proc.stderr.decode("utf-8", "replace")
