"""Helpers for the Debian package test: root, the machine state the test touches (set aside and put
back), the installed systemd units, and daemons started the way systemd starts them: the unit's own
ExecStart= as its User=/Group=, with its UMask=, in /, with a NOTIFY_SOCKET that collects sd_notify
messages and their senders' credentials.
"""
import fcntl
import grp
import os
import pwd
import re
import select
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

PACKAGE = "ocspkit"

# Everything outside the package's file list that installing it and running the test creates. Whatever
# is there before the test is renamed to <path>.ocspkit-package-test and renamed back afterwards.
TOUCHED = [Path(p) for p in ("/etc/ocspkit", "/etc/ocsp-stapler", "/var/lib/ocspkit", "/var/lib/ocsp-stapler",
                             "/run/ocsp-stapler")]
BACKUP_SUFFIX = ".ocspkit-package-test"
# Present from the install until the purge: an ocspkit package found installed while it exists was left
# by an interrupted run of this test (and may be purged); without it the package is someone else's.
MARKER = Path("/var/tmp/ocspkit-package-test.marker")
# Held for the whole test: runs from other build folders on the same machine wait (ctest's RESOURCE_LOCK
# only orders the tests of one ctest run).
LOCK = Path("/var/lock/ocspkit-package-test.lock")
LOCK_WAIT = 600


def ensure_root():
    """The test installs a package system-wide. Not root: re-run through passwordless sudo, else stop
    with a message saying so (CI runs as root)."""
    if os.geteuid() == 0:
        return
    if shutil.which("sudo") and subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode == 0:
        keep = ",".join(k for k in os.environ if k.startswith("OCSPKIT_"))
        os.execvp("sudo", ["sudo", "-n", f"--preserve-env={keep}", sys.executable, *sys.argv])
    sys.exit("test_package: installing the .deb needs root: run ctest as root, or allow this user passwordless "
             "sudo (`sudo -n true` failed)")


def package_state():
    """dpkg's status of the package ("install ok installed", "deinstall ok config-files", ...) or None."""
    r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", PACKAGE], capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 and r.stdout.strip() else None


def is_installed():
    state = package_state()
    return state is not None and not state.endswith("not-installed")


class MachineState:
    """Sets aside what the test would overwrite and puts it back in restore()."""

    def __init__(self):
        self.backups = []
        self.lock = None

    def _lock(self):
        self.lock = open(LOCK, "w")
        deadline = time.monotonic() + LOCK_WAIT
        while True:
            try:
                fcntl.flock(self.lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise AssertionError(f"another package test held {LOCK} for {LOCK_WAIT} s")
                time.sleep(0.5)

    def save(self):
        self._lock()
        resuming = MARKER.exists()
        if is_installed() and not resuming:
            raise AssertionError(f"the {PACKAGE} package is installed on this machine, not by this test "
                                 f"({package_state()}); the test installs and purges it: remove it first with "
                                 f"`apt-get purge {PACKAGE}`, or run the test on another machine")
        if resuming:
            # Left by an interrupted run (perhaps inside dpkg), with its daemons and folders.
            stop_recorded_daemons()
            subprocess.run(["dpkg", "--configure", "-a"], capture_output=True, timeout=300)
            if is_installed():
                apt_get("purge", "-y", PACKAGE)
        for path in TOUCHED:
            backup = Path(str(path) + BACKUP_SUFFIX)
            if backup.exists():
                if not resuming:
                    raise AssertionError(f"{backup} exists: a copy kept by an earlier run of this test? Put it "
                                         f"back (mv {backup} {path}) or delete it, then run the test again")
                # An interrupted run: the backup is the original, the path its leftovers.
                remove_path(path)
                self.backups.append((path, backup))
            elif resuming:
                remove_path(path)
        MARKER.write_text("the ocspkit package test is running (or was interrupted)\n")
        if not resuming:
            for path in TOUCHED:
                if path.exists() or path.is_symlink():
                    backup = Path(str(path) + BACKUP_SUFFIX)
                    os.rename(path, backup)
                    self.backups.append((path, backup))

    def restore(self):
        for path in TOUCHED:
            remove_path(path)
        for path, backup in self.backups:
            os.rename(backup, path)
        self.backups = []
        MARKER.unlink(missing_ok=True)
        self.lock.close()


def record_daemon(pid):
    """Notes a daemon's pid in the marker, for the next run to stop if this one is killed."""
    with open(MARKER, "a") as f:
        f.write(f"pid {pid}\n")


def stop_recorded_daemons():
    """SIGKILLs the daemons an interrupted run recorded, if those pids still run an installed program."""
    for line in MARKER.read_text().splitlines():
        if not line.startswith("pid "):
            continue
        pid = int(line.split()[1])
        try:
            exe = os.readlink(f"/proc/{pid}/exe")
        except OSError:
            continue
        if re.match(r"^/usr/bin/ocsp-(responder|stapler)( \(deleted\))?$", exe):
            os.kill(pid, signal.SIGKILL)


def remove_path(path):
    path = Path(path)
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)


def apt_get(*args, timeout=600, cwd=None):
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    r = subprocess.run(["apt-get", *args], capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env)
    if r.returncode != 0:
        raise AssertionError(f"apt-get {' '.join(args)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return r.stdout + r.stderr


def owner_mode(path):
    """(user, group, mode) of a path, mode as an int like 0o750."""
    st = os.stat(path)
    return pwd.getpwuid(st.st_uid).pw_name, grp.getgrgid(st.st_gid).gr_name, st.st_mode & 0o7777


# --- systemd units ---------------------------------------------------------------------------------

class Unit:
    """A unit file's settings: {(section, key): [values in order]}."""

    def __init__(self, path):
        self.path = Path(path)
        self.name = self.path.name
        self.settings = {}
        section = None
        for raw in self.path.read_text().splitlines():
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            if line.endswith("\\"):
                raise AssertionError(f"{self.path}: continuation lines are not handled by this test: {line}")
            if line.startswith("[") and line.endswith("]"):
                section = line[1:-1]
                continue
            key, _, value = line.partition("=")
            self.settings.setdefault((section, key.strip()), []).append(value.strip())

    def values(self, key, section="Service"):
        return self.settings.get((section, key), [])

    def value(self, key, section="Service", default=None):
        v = self.values(key, section)
        return v[-1] if v else default

    def command(self, key):
        """The one command line of ExecStart=/ExecStartPre=/ExecReload= as argv, without $MAINPID
        substitution (ExecReload's $MAINPID is left for the caller)."""
        lines = self.values(key)
        if len(lines) != 1:
            raise AssertionError(f"{self.path}: expected exactly one {key}=, found {lines}")
        line = lines[0]
        if line[:1] in "-@:+!":
            raise AssertionError(f"{self.path}: {key}= with a prefix ({line[:1]}) is not handled by this test")
        return shlex.split(line)


# --- sd_notify ---------------------------------------------------------------------------------------

class NotifySocket:
    """An AF_UNIX datagram socket like systemd's notify socket. Each message is kept with the pid and
    uid of its sender (SO_PASSCRED), which systemd uses for NotifyAccess=main."""

    def __init__(self, directory):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o711)  # the service user must reach the socket
        self.path = self.dir / "notify.sock"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.path))
        os.chmod(self.path, 0o666)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.messages = []  # (pid, uid, {KEY: value})
        self.consumed = 0

    def _receive(self, wait):
        ready, _, _ = select.select([self.sock], [], [], wait)
        if not ready:
            return False
        data, ancdata, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(12))
        pid = uid = None
        for level, kind, payload in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid, uid, _ = struct.unpack("iII", payload[:12])
        fields = dict(line.split("=", 1) for line in data.decode("utf-8", "replace").splitlines() if "=" in line)
        self.messages.append((pid, uid, fields))
        return True

    def wait_for(self, key, value, alive, describe, timeout):
        """Waits for a not yet consumed message with key=value; returns (pid, uid, fields). `alive()`
        returning False ends the wait early; `describe()` supplies the daemon's log for the failure."""
        deadline = time.monotonic() + timeout
        while True:
            for i in range(self.consumed, len(self.messages)):
                pid, uid, fields = self.messages[i]
                if fields.get(key) == value:
                    self.consumed = i + 1
                    return pid, uid, fields
            if time.monotonic() > deadline:
                raise AssertionError(f"no {key}={value} on NOTIFY_SOCKET within {timeout} s (got "
                                     f"{[m[2] for m in self.messages]}):\n{describe()}")
            if not alive():
                while self._receive(0.2):  # what it sent before exiting
                    pass
                if not any(m[2].get(key) == value for m in self.messages[self.consumed:]):
                    raise AssertionError(f"exited without sending {key}={value} (got "
                                         f"{[m[2] for m in self.messages]}):\n{describe()}")
                continue
            self._receive(0.1)

    def close(self):
        self.sock.close()


# --- a daemon started as its unit starts it ----------------------------------------------------------

class Service:
    """Runs a unit's ExecStartPre= and ExecStart= with the unit's User=, Group= (and the user's
    supplementary groups, as systemd gives them), UMask=, working directory / and a NOTIFY_SOCKET.

    With trace_syscalls, ExecStart= runs under `strace -f` (as the same user), so that syscalls_used()
    can be held against the unit's SystemCallFilter=; the daemon is then strace's child, and main_pid()
    (what systemd calls $MAINPID) finds it in the trace."""

    def __init__(self, unit: Unit, workdir, trace_syscalls=False):
        self.unit = unit
        self.user = unit.value("User")
        self.group = unit.value("Group")
        if not self.user or not self.group:
            raise AssertionError(f"{unit.path}: User= and Group= must be set")
        self.umask = int(unit.value("UMask", default="0022"), 8)
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.notify = NotifySocket(self.workdir / "notify")
        self.log_path = self.workdir / "daemon.log"
        self.trace_path = self.workdir / "syscalls.trace" if trace_syscalls else None
        self._main_pid = None
        self.proc = None
        self._log = None
        entry = pwd.getpwnam(self.user)
        self.uid = entry.pw_uid
        self.env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
                    "HOME": entry.pw_dir, "USER": self.user, "LOGNAME": self.user, "SHELL": entry.pw_shell,
                    "NOTIFY_SOCKET": str(self.notify.path)}

    def as_user(self, argv):
        return ["setpriv", f"--reuid={self.user}", f"--regid={self.group}", "--init-groups", "--", *argv]

    def run_as_user(self, argv, timeout=60):
        umask = self.umask
        return subprocess.run(self.as_user(argv), cwd="/", env=self.env, capture_output=True, text=True,
                              timeout=timeout, preexec_fn=lambda: os.umask(umask))

    def start(self, ready_timeout):
        pre = self.unit.values("ExecStartPre")
        if pre:
            r = self.run_as_user(self.unit.command("ExecStartPre"))
            if r.returncode != 0:
                raise AssertionError(f"{self.unit.name}: ExecStartPre= {pre[0]} failed ({r.returncode}):\n"
                                     f"{r.stdout}\n{r.stderr}")
        argv = self.unit.command("ExecStart")
        if any("$" in a for a in argv):
            raise AssertionError(f"{self.unit.name}: ExecStart= uses a variable: {argv}")
        self._log = open(self.log_path, "ab")
        if self.trace_path:
            self.trace_path.write_text("")
            shutil.chown(self.trace_path, self.user, self.group)
            argv = ["strace", "-f", "-qq", "-o", str(self.trace_path), "--", *argv]
        umask = self.umask
        self.proc = subprocess.Popen(self.as_user(argv), cwd="/", env=self.env, stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
                                     preexec_fn=lambda: os.umask(umask))
        record_daemon(self.main_pid())
        return self.wait_notify("READY", "1", ready_timeout)

    def wait_notify(self, key, value, timeout):
        """Waits for key=value from the daemon; it must come from the main process running as the unit's
        user, as NotifyAccess=main requires."""
        pid, uid, fields = self.notify.wait_for(key, value, self.alive, self.log_text, timeout)
        if pid != self.main_pid() or uid != self.uid:
            raise AssertionError(f"{self.unit.name}: {key}={value} came from pid {pid} uid {uid}, expected the main "
                                 f"process {self.main_pid()} as {self.user} ({self.uid})")
        return fields

    def main_pid(self):
        """The daemon's pid: setpriv execs it, so the process started; under strace, the pid of the
        trace's first line (the traced child's execve)."""
        if self._main_pid is None:
            if not self.trace_path:
                self._main_pid = self.proc.pid
            else:
                deadline = time.monotonic() + 10
                while self._main_pid is None:
                    first = self.trace_path.read_text().split(" ", 1)[0]
                    if first.isdigit():
                        self._main_pid = int(first)
                    elif time.monotonic() > deadline:
                        raise AssertionError(f"no traced process in {self.trace_path}:\n{self.log_text()}")
                    else:
                        time.sleep(0.05)
        return self._main_pid

    def syscalls_used(self):
        """Names of the syscalls the traced daemon made (all threads)."""
        names = set()
        for line in self.trace_path.read_text(errors="replace").splitlines():
            m = re.match(r"^\d+\s+(?:<\.\.\. (\w+) resumed>|(\w+)\()", line)
            if m:
                names.add(m[1] or m[2])
        return names

    def reload(self):
        """Runs ExecReload= with $MAINPID, as the unit's user (systemd runs it with the unit's credentials)."""
        argv = [a.replace("$MAINPID", str(self.main_pid())) for a in self.unit.command("ExecReload")]
        r = self.run_as_user(argv)
        if r.returncode != 0:
            raise AssertionError(f"{self.unit.name}: ExecReload= failed ({r.returncode}): {r.stderr}")

    def process_uids(self):
        """Real, effective, saved and filesystem uid of the running daemon (from /proc)."""
        for line in Path(f"/proc/{self.main_pid()}/status").read_text().splitlines():
            if line.startswith("Uid:"):
                return [int(x) for x in line.split()[1:]]
        raise AssertionError("no Uid: line")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=15):
        """KillSignal= (SIGTERM), then the exit code; SIGKILL after `timeout` (TimeoutStopSec=)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            os.kill(self.main_pid(), signal.SIGTERM)  # strace exits with its child's status
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None
        return self.proc.returncode

    def close(self):
        self.stop()
        self.notify.close()

    def log_text(self):
        if self._log is not None:
            self._log.flush()
        return self.log_path.read_text(errors="replace")[-6000:] if self.log_path.exists() else ""


def allowed_syscalls(unit: Unit):
    """The syscalls a unit's SystemCallFilter= lines allow: the first line is the allow-list, later lines
    starting with ~ take groups or names away (systemd.exec(5)). Groups are expanded with
    `systemd-analyze syscall-filter`, so the answer is this systemd's own."""
    cache = {}

    def expand(name):
        if not name.startswith("@"):
            return {name}
        if name not in cache:
            out = subprocess.run(["systemd-analyze", "syscall-filter", name], capture_output=True, text=True,
                                 check=True).stdout
            members = set()
            for line in out.splitlines()[1:]:
                item = line.strip()
                if item and not item.startswith("#"):
                    members |= expand(item)
            cache[name] = members
        return cache[name]

    lines = unit.values("SystemCallFilter")
    if not lines or lines[0].startswith("~"):
        raise AssertionError(f"{unit.path}: the first SystemCallFilter= must be an allow-list: {lines}")
    allowed = set()
    for line in lines:
        deny = line.startswith("~")
        names = set().union(*(expand(n) for n in line.lstrip("~").split()))
        allowed = allowed - names if deny else allowed | names
    return allowed
