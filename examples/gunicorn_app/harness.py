"""Start, drive and stop the demo app under Gunicorn (plain Python, no pytest).

Shared by examples/gunicorn_demo.py (`make demo`), tests/e2e/test_gunicorn.py and
tests/bench/gunicorn_bench.py (`make bench`):

    server = Server(["/usr/bin/gunicorn"])          # or [venv_python, "-m", "gunicorn"]
    server.start(); server.wait_ready()              # polls the port, waits for 2 workers
    load = start_ab(server.url("/slow"), seconds=8)  # ab -c 4 -t 8, bounded
    ...; stats = finish_ab(load)                     # {"complete", "failed", "rps", ...}
    server.stop()                                    # SIGTERM, then SIGKILL to the group

The master runs in a session of its own, so its workers share its process group
and stop() can always kill the lot, also after a failure.
"""
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

APP_DIR = os.path.dirname(os.path.abspath(__file__))
CONF = os.path.join(APP_DIR, "gunicorn.conf.py")
DEBIAN_GUNICORN = "/usr/bin/gunicorn"
DEBIAN_PYTHON = "/usr/bin/python3"
WORKERS = 2


def missing_tools(python=DEBIAN_PYTHON, gunicorn_cmd=None):
    """One message per missing tool (empty when all are there): gunicorn, flask, ab."""
    problems = []
    if gunicorn_cmd is None and not os.access(DEBIAN_GUNICORN, os.X_OK):
        problems.append("gunicorn is not installed (%s missing; Debian package gunicorn, "
                        "`make deps` installs it)" % DEBIAN_GUNICORN)
    mods = ["flask"] + (["gunicorn"] if gunicorn_cmd is not None else [])
    for mod in mods:
        r = subprocess.run([python, "-c", "import %s" % mod], capture_output=True, text=True)
        if r.returncode != 0:
            problems.append("%s cannot be imported by %s (%s)"
                            % (mod, python, (r.stderr.strip().splitlines() or ["?"])[-1]))
    if shutil.which("ab") is None:
        problems.append("ab is not installed (Debian package apache2-utils, "
                        "`make deps` installs it)")
    return problems


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(port, path="/", timeout=2.0):
    """(status, body) of GET http://127.0.0.1:PORT/PATH."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def children(pid):
    """PIDs of the live (non-zombie) children of pid, from /proc/*/stat."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                data = f.read()
        except OSError:
            continue
        fields = data[data.rindex(")") + 2:].split()
        if int(fields[1]) == pid and fields[0] not in ("Z", "X"):
            out.append(int(entry))
    return sorted(out)


def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().rstrip(b"\0").replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


class Server:
    """Gunicorn serving examples/gunicorn_app/app.py with 2 workers on 127.0.0.1."""

    def __init__(self, gunicorn_cmd=(DEBIAN_GUNICORN,), port=None, popen=None, env=None,
                 log_path=None):
        self.gunicorn_cmd = list(gunicorn_cmd)
        self.port = port or free_port()
        self.popen = popen           # e.g. the e2e tests' spawn(); default: Popen
        self.env = env
        self.log_path = log_path     # gunicorn's stderr (default: a pipe, kept for errors)
        self.proc = None
        self._log = None

    @property
    def pid(self):
        return self.proc.pid

    def url(self, path="/"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def command(self):
        return self.gunicorn_cmd + ["-c", CONF, "--chdir", APP_DIR,
                                    "-b", "127.0.0.1:%d" % self.port, "app:app"]

    def start(self):
        cmd = self.command()
        if self.log_path:
            self._log = open(self.log_path, "wb")
        else:
            self._log = subprocess.PIPE
        kw = dict(stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT)
        if self.popen is not None:
            if self.env is not None:
                kw["env"] = self.env
            self.proc = self.popen(cmd, **kw)
        else:
            env = dict(self.env if self.env is not None else os.environ)
            env.setdefault("PYTHONDONTWRITEBYTECODE", "1")
            self.proc = subprocess.Popen(cmd, start_new_session=True, env=env, **kw)
        return self

    def log_text(self):
        """What gunicorn wrote so far (only once it exited when it goes to a pipe)."""
        if self.log_path:
            try:
                with open(self.log_path, "rb") as f:
                    return f.read().decode("utf-8", "replace")[-3000:]
            except OSError:
                return ""
        if self.proc and self.proc.poll() is not None and self.proc.stdout:
            return self.proc.stdout.read().decode("utf-8", "replace")[-3000:]
        return ""

    def workers(self):
        return children(self.pid)

    def wait_ready(self, timeout=30.0, workers=WORKERS):
        """Poll the port until GET / answers 200 and the master has `workers` workers."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("gunicorn exited with code %s before it was ready: %s\n%s"
                                   % (self.proc.returncode, " ".join(self.command()),
                                      self.log_text()))
            try:
                status, _ = http_get(self.port, "/", timeout=1.0)
                last = "HTTP %d" % status
                if status == 200 and len(self.workers()) >= workers:
                    return self.workers()
            except OSError as e:
                last = str(e)
            time.sleep(0.1)
        raise RuntimeError("gunicorn was not ready on port %d within %.0f s (%s; workers %s): %s"
                           % (self.port, timeout, last, self.workers(), " ".join(self.command())))

    def wait_workers(self, count=WORKERS, exclude=(), timeout=10.0):
        """Wait until the master has `count` workers none of which is in `exclude`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            w = self.workers()
            if len(w) >= count and not set(w) & set(exclude):
                return w
            time.sleep(0.05)
        raise RuntimeError("gunicorn has workers %s, wanted %d new ones (not %s)"
                           % (self.workers(), count, list(exclude)))

    def stop(self, grace=5.0):
        """SIGTERM to the master (graceful), then SIGKILL to its whole process group."""
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            try:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
        # still unreaped or just reaped by us: the group id is ours; kill what is left
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        if self._log not in (None, subprocess.PIPE):
            self._log.close()
        if proc.stdout:
            proc.stdout.close()


# ------------------------------------------------------------------ load (ab)

def ab_command(url, concurrency=4, seconds=None, requests=None):
    """ab, bounded by time (-t) and/or a request count (-n); -r: a reset connection
    (a killed worker) is counted as a failed request instead of ending the run."""
    cmd = ["ab", "-r", "-c", str(concurrency), "-s", "30"]
    if seconds is not None:
        cmd += ["-t", "%g" % seconds]
    cmd += ["-n", str(requests if requests is not None else 1000000)]
    return cmd + [url]


def start_ab(url, concurrency=4, seconds=None, requests=None, popen=None):
    cmd = ab_command(url, concurrency, seconds, requests)
    kw = dict(stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if popen is not None:
        return popen(cmd, **kw)
    return subprocess.Popen(cmd, start_new_session=True, **kw)


def parse_ab(text):
    """The numbers of an ab report: complete, failed, non2xx, rps, time_per_request_ms."""
    def num(pattern, conv=int, default=None):
        m = re.search(pattern, text, re.M)
        return conv(m.group(1)) if m else default
    return {
        "complete": num(r"^Complete requests:\s+(\d+)"),
        "failed": num(r"^Failed requests:\s+(\d+)"),
        "non2xx": num(r"^Non-2xx responses:\s+(\d+)", default=0),
        "rps": num(r"^Requests per second:\s+([\d.]+)", float),
        "ms_per_request": num(r"^Time per request:\s+([\d.]+) \[ms\] \(mean\)", float),
    }


def finish_ab(proc, timeout=120.0, interrupt=False):
    """Wait for ab (first ending it with SIGINT when interrupt: ab then reports the
    requests done so far; those in flight are not counted); return parse_ab() of its
    report plus rc (1 after SIGINT), interrupted, out and err."""
    interrupted = interrupt and proc.poll() is None
    if interrupted:
        proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        out, err = proc.communicate()
    out = out.decode("utf-8", "replace") if isinstance(out, bytes) else (out or "")
    err = err.decode("utf-8", "replace") if isinstance(err, bytes) else (err or "")
    stats = parse_ab(out)
    stats.update(rc=proc.returncode, interrupted=interrupted, out=out, err=err)
    return stats


if __name__ == "__main__":      # quick manual check: serve until Ctrl-C
    srv = Server().start()
    try:
        print("workers", srv.wait_ready(), "at", srv.url("/slow"))
        sys.stdout.flush()
        srv.proc.wait()
    except KeyboardInterrupt:
        pass
    finally:
        srv.stop()
