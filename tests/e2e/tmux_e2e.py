"""Drive a full-screen program in tmux for end-to-end tests of pyprof's TUIs.

A Tmux object runs one command in a detached session of its own tmux server
(a private socket, no user config) on a fixed-size window; keys are sent with
send-keys and the rendered screen is read with capture-pane -p (what a user
would see, without escape sequences). After the program exits the pane runs
`echo PYPROF-EXIT=<code>; stty -a; echo PYPROF-END`, so a test sees the exit code and whether
the terminal modes were restored. tmux missing is a test failure, not a skip.
"""
import os
import shlex
import shutil
import subprocess
import time
import uuid

import pytest

import pyprof_e2e as e2e

EXIT_MARK = "PYPROF-EXIT="
END_MARK = "PYPROF-END"


def require_tmux() -> str:
    path = shutil.which("tmux")
    if path is None:
        pytest.fail("tmux is not installed: it is needed to drive the TUI tests "
                    "(run 'make deps' or 'apt-get install tmux')")
    return path


class Tmux:
    def __init__(self, command, width=100, height=24, cwd=None):
        self.tmux = require_tmux()
        self.socket = "pyprof-e2e-%s" % uuid.uuid4().hex[:12]
        self.width, self.height = width, height
        # the shell survives a Ctrl-C sent to the program (a trap, unlike '', is not inherited)
        shell = "trap 'true' INT; %s; echo %s$?; stty -a; echo %s; exec sleep 600" % (
            " ".join(shlex.quote(str(c)) for c in command), EXIT_MARK, END_MARK)
        if cwd:
            shell = "cd %s && %s" % (shlex.quote(str(cwd)), shell)
        env = e2e.child_env({"TERM": "xterm-256color"})
        env.pop("TMUX", None)
        self._run("-f", "/dev/null", "new-session", "-d", "-s", "t", "-x", str(width), "-y", str(height),
                  "sh -c %s" % shlex.quote(shell), env=env)
        # a detached session keeps the size given above
        self._run("set-option", "-g", "status", "off", check=False)
        self._run("resize-window", "-t", "t", "-x", str(width), "-y", str(height), check=False)

    def _run(self, *args, env=None, check=True):
        result = subprocess.run([self.tmux, "-L", self.socket, *args], capture_output=True, text=True,
                                timeout=30, env=env or e2e.child_env())
        if check and result.returncode != 0:
            raise AssertionError("tmux %s failed: %s" % (" ".join(args), result.stderr.strip()))
        return result

    def keys(self, *keys):
        """Send tmux key names (Down, Enter, Escape, C-c) or literal strings (-l)."""
        for key in keys:
            if key in ("Down", "Up", "Enter", "Escape", "C-c", "C-u", "BSpace", "PageDown", "Home"):
                self._run("send-keys", "-t", "t", key)
            else:
                self._run("send-keys", "-t", "t", "-l", key)
            time.sleep(0.05)

    def screen(self) -> str:
        return self._run("capture-pane", "-p", "-t", "t", "-J").stdout

    def history(self) -> str:
        return self._run("capture-pane", "-p", "-t", "t", "-S", "-200").stdout

    def resize(self, width, height):
        self._run("resize-window", "-t", "t", "-x", str(width), "-y", str(height))

    def wait_for(self, predicate, what, timeout=20.0):
        """Poll the screen until predicate(screen) is true; return that screen."""
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if predicate(screen):
                return screen
            time.sleep(0.1)
        raise AssertionError("timed out waiting for %s; the screen:\n%s" % (what, screen))

    def wait_exit(self, timeout=20.0):
        """Wait for the program to end; return (exit code, screen after it)."""
        screen = self.wait_for(lambda s: EXIT_MARK in s and END_MARK in s, "the program to exit", timeout)
        line = [l for l in screen.splitlines() if l.startswith(EXIT_MARK)][0]
        return int(line[len(EXIT_MARK):]), screen

    def close(self):
        self._run("kill-server", check=False)


def terminal_restored(screen: str) -> bool:
    """stty -a (printed after the program) shows canonical mode and echo back on."""
    words = screen.replace(";", " ").split()
    return "icanon" in words and "echo" in words and "-icanon" not in words and "-echo" not in words
