"""How the sampler writes its outputs (issue 10): never through a planted
symlink, never over a device or FIFO, 0600 unless asked, a clear error
naming the path.  Rules: docs/sampler-cli.md "Output files"."""
import os
import stat
import subprocess
import tempfile

import pytest

import pyprof_e2e as e2e
from pyprof_e2e import SAMPLER, run_sampler

BURN = "import time\nt = time.time()\nwhile time.time() - t < 5: sum(range(1000))\n"


def sampler_record(python, outputs, extra=(), duration="0.5", **kw):
    args = ["record", *outputs, "-d", duration, "-F", "200", *extra, "--", python, "-c", BURN]
    return run_sampler(args, **kw)


def test_planted_symlinks_are_never_followed(any_interp):
    """The old scheme wrote to OUT.tmp.PID with fopen("w"): a local user who can
    write the directory plants symlinks for the next PIDs and root's sampler
    truncates and fills the file they point to.  Plant one at every name the old
    scheme could use in the next 3000 PIDs, for both outputs."""
    with tempfile.TemporaryDirectory(prefix="pyprof-e2e-") as tmp:
        victim = os.path.join(tmp, "victim")
        with open(victim, "w") as f:
            f.write("precious\n")
        os.chmod(victim, 0o644)
        raw = os.path.join(tmp, "p.raw")
        col = os.path.join(tmp, "p.txt")
        with open("/proc/sys/kernel/ns_last_pid") as f:
            last = int(f.read())
        with open("/proc/sys/kernel/pid_max") as f:
            pid_max = int(f.read())
        planted = []
        for pid in range(last + 1, min(last + 3000, pid_max)):
            for out in (raw, col):
                name = "%s.tmp.%d" % (out, pid)
                os.symlink(victim, name)
                planted.append(name)
        result = sampler_record(any_interp.path, ["--raw", raw, "--collapsed", col])
        assert result.returncode == 0, e2e.describe(result)
        with open(victim) as f:
            assert f.read() == "precious\n", "the sampler wrote through a planted symlink"
        for name in planted:
            assert os.path.islink(name), "%s was replaced" % name
        for out in (raw, col):
            st = os.lstat(out)
            assert stat.S_ISREG(st.st_mode), out
            assert stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode)
        with open(col) as f:
            assert e2e.parse_collapsed(f.read()), "empty collapsed output"
        left = [n for n in os.listdir(tmp) if ".pyprof-" in n]
        assert not left, "temporary files left: %s" % left


def test_symlink_at_the_output_is_refused(any_interp):
    with tempfile.TemporaryDirectory(prefix="pyprof-e2e-") as tmp:
        victim = os.path.join(tmp, "victim")
        with open(victim, "w") as f:
            f.write("precious\n")
        out = os.path.join(tmp, "p.txt")
        os.symlink(victim, out)
        result = sampler_record(any_interp.path, ["--collapsed", out])
        assert result.returncode == 8, e2e.describe(result)
        assert out in result.stderr and "symbolic link" in result.stderr, e2e.describe(result)
        assert "Traceback" not in result.stderr
        assert os.path.islink(out)
        with open(victim) as f:
            assert f.read() == "precious\n"


def test_output_mode(any_interp):
    with tempfile.TemporaryDirectory(prefix="pyprof-e2e-") as tmp:
        out = os.path.join(tmp, "p.txt")
        result = sampler_record(any_interp.path, ["--collapsed", out], ["--output-mode", "0640"])
        assert result.returncode == 0, e2e.describe(result)
        assert stat.S_IMODE(os.stat(out).st_mode) == 0o640
        result = sampler_record(any_interp.path, ["--collapsed", out], ["--output-mode", "9x"])
        assert result.returncode == 2, e2e.describe(result)


def private_node(tmp, name, major, minor):
    """A character device node of our own with the numbers of a /dev one: the
    same device, and a sampler that renames over it harms nothing shared."""
    path = os.path.join(tmp, name)
    os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(major, minor))
    return path


def test_dev_full_is_an_error_and_stays_a_device(any_interp):
    """As root, -o /dev/full used to be renamed over: /dev/full became a file."""
    with tempfile.TemporaryDirectory(prefix="pyprof-e2e-") as tmp:
        full = private_node(tmp, "full", 1, 7)
        result = sampler_record(any_interp.path, ["--collapsed", full])
        st = os.lstat(full)
        assert stat.S_ISCHR(st.st_mode), "the device node was replaced by a file"
        assert st.st_rdev == os.makedev(1, 7)
        assert result.returncode == 8, e2e.describe(result)
        assert "cannot write %s" % full in result.stderr, e2e.describe(result)
        assert "No space left on device" in result.stderr, e2e.describe(result)
        assert sorted(os.listdir(tmp)) == ["full"], "temporary files left"
        # and through the CLI
        result = e2e.run_pyprof(["record", "-o", full, "--format", "collapsed", "-d", "0.5",
                                 "--", any_interp.path, "-c", BURN])
        assert stat.S_ISCHR(os.lstat(full).st_mode), "the device node was replaced by a file"
        assert result.returncode != 0 and full in result.stderr, e2e.describe(result)
        assert "Traceback" not in result.stderr, e2e.describe(result)


def test_dev_null_stays_a_device(any_interp):
    with tempfile.TemporaryDirectory(prefix="pyprof-e2e-") as tmp:
        null = private_node(tmp, "null", 1, 3)
        result = sampler_record(any_interp.path, ["--collapsed", null, "--raw", null])
        assert result.returncode == 0, e2e.describe(result)
        st = os.lstat(null)
        assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(1, 3)


def test_stdout_dash_and_dev_stdout(any_interp):
    with tempfile.TemporaryDirectory(prefix="pyprof-e2e-") as tmp:
        link = os.path.join(tmp, "stdout")
        os.symlink("/proc/self/fd/1", link)     # what /dev/stdout is
        for target in ("-", link):      # not the real /dev/stdout: a sampler that renames
                                        # over it must harm nothing shared
            args = ["record", "--collapsed", target, "-d", "0.5", "-F", "200", "--",
                    any_interp.path, "-c", BURN]
            proc = e2e.spawn([SAMPLER, *args], cwd=tmp, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, encoding="utf-8", errors="replace")
            result = e2e.finish_pyprof(proc, 60)
            assert result.returncode == 0, e2e.describe(result)
            stacks = e2e.parse_collapsed(result.stdout)
            assert stacks and sum(stacks.values()) > 5, e2e.describe(result)
            assert sorted(os.listdir(tmp)) == ["stdout"], os.listdir(tmp)
            assert os.path.islink(link)


def test_fifo_is_streamed_into(any_interp):
    with tempfile.TemporaryDirectory(prefix="pyprof-e2e-") as tmp:
        fifo = os.path.join(tmp, "fifo")
        os.mkfifo(fifo)
        # the reader is a process of its own: it cannot hang the test run
        reader = e2e.spawn(["timeout", "60", "cat", fifo], stdout=subprocess.PIPE,
                           encoding="utf-8", errors="replace")
        result = sampler_record(any_interp.path, ["--collapsed", fifo])
        assert result.returncode == 0, e2e.describe(result)
        assert stat.S_ISFIFO(os.lstat(fifo).st_mode), "the FIFO was replaced"
        if reader.poll() is None:
            reader.kill()
        got = reader.communicate()[0]
        assert e2e.parse_collapsed(got), "nothing came through the FIFO"
        assert os.listdir(tmp) == ["fifo"]
