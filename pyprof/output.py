"""Where a profile goes: one writer for every output of ``pyprof``.

``-o FILE`` is written through a temporary file in its directory (mode 0600,
unpredictable name, never a followed symlink), fsync, then a rename: a reader
never sees half a profile.  ``-o -`` is standard output; an existing FIFO,
character device or socket is written in place (:func:`output_stream`).
:func:`check_output_path` finds an unwritable output before a recording,
:func:`keep_raw` keeps the recording when the output failed after it
(docs/security.md, docs/errors.md).
"""

import errno
import os
import shutil
import stat
import sys
import tempfile

from .errors import EXIT_OUTPUT, PyprofError

STDOUT = "-"  # ``-o -``: write the profile to standard output
OUTPUT_MODE = 0o600  # outputs hold command lines: private unless the user chmods them


def output_stream(path):
    """How *path* is written: ``"stdout"`` (``-o -``), ``"stream"`` or None (a file).

    A stream is an existing FIFO, character device or socket (``/dev/null``,
    ``/dev/stdout``, a pipe to another program): it is opened and written in
    place, never replaced.  A symbolic link is followed to find one only when
    it belongs to root or to us (``/dev/stdout`` -> ``/proc/self/fd/1``): a link
    that another user planted is replaced like a file, never followed.
    """
    if path == STDOUT:
        return "stdout"
    try:
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            if st.st_uid not in (0, os.geteuid()):
                return None
            st = os.stat(path)
    except OSError:
        return None
    return "stream" if _is_stream(st.st_mode) else None


def _is_stream(mode):
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISSOCK(mode)


def check_output_path(path):
    """Raise :class:`PyprofError` (exit 8) early if *path* cannot be written.

    For a file, a scratch file is created (and removed) where the temporary
    file will be, so that a read-only file system, ``/proc`` or a full disk's
    directory fail before the recording rather than after it.
    """
    if output_stream(path):
        return
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise PyprofError("cannot write %s: it is a directory" % path, EXIT_OUTPUT)
    if not os.path.isdir(directory):
        raise PyprofError("cannot write %s: no such directory %s" % (path, directory), EXIT_OUTPUT)
    try:
        fd, probe = _make_temp(path)
    except OSError as e:
        raise PyprofError("cannot write %s: %s" % (path, e.strerror or e), EXIT_OUTPUT,
                          "choose another -o FILE") from None
    os.close(fd)
    os.unlink(probe)


def _make_temp(path):
    """Create the temporary file for *path* in its directory: ``(fd, name)``.

    tempfile.mkstemp opens it with O_CREAT|O_EXCL|O_NOFOLLOW under an
    unpredictable name, mode 0600: nobody sharing the directory can plant a
    file or a symlink there for pyprof to write through.
    """
    directory, name = os.path.split(os.path.abspath(path))
    return tempfile.mkstemp(prefix="." + name[:200] + ".tmp.", dir=directory)


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _open_stream(path):
    """Open the FIFO / device / socket *path* for writing, checking what was opened."""
    flags = os.O_WRONLY | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0)
    if not os.path.islink(path):
        flags |= os.O_NOFOLLOW
    fd = os.open(path, flags)  # no O_CREAT, no O_TRUNC: a file swapped in meanwhile is not touched
    if not _is_stream(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(errno.EEXIST, "it changed into a regular file while pyprof ran")
    return fd


def write_output(path, data):
    """Write *data* (str, written as UTF-8, or bytes) to the output *path*.

    A file goes through a temporary file in the same directory (mode 0600,
    unpredictable name, never a followed symlink), fsync, then a rename over
    *path*; a reader never sees half a profile.  ``-`` is standard output; a
    FIFO, character device or socket is written in place (output_stream()).
    Errors name *path*, never the temporary file.
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    kind = output_stream(path)
    fd = tmp = None
    try:
        if kind == "stdout":
            sys.stdout.flush()
            _write_all(sys.stdout.fileno(), data)
            return
        if kind == "stream":
            fd = _open_stream(path)
            _write_all(fd, data)
            os.close(fd)
            fd = None
            return
        fd, tmp = _make_temp(path)
        if OUTPUT_MODE != 0o600:
            os.fchmod(fd, OUTPUT_MODE)
        _write_all(fd, data)
        os.fsync(fd)
        os.close(fd)
        fd = None
        os.replace(tmp, path)
        tmp = None
    except OSError as e:
        name = "standard output" if kind == "stdout" else path
        raise PyprofError("cannot write %s: %s" % (name, e.strerror or e), EXIT_OUTPUT) from None
    finally:
        if fd is not None:
            os.close(fd)
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def copy_output(source, path):
    """Write the file *source* (written by the sampler in pyprof's own temp dir) to the output *path*."""
    try:
        with open(source, "rb") as f:
            data = f.read()
    except OSError as e:
        raise PyprofError("cannot read the sampler's output %s: %s" % (source, e.strerror or e)) from None
    write_output(path, data)


def keep_raw(raw_path, output):
    """Keep the recording *raw_path* as ``<output>.raw`` (else in the current or home directory).

    Called when the output could not be written, so that a long recording is
    not lost; prints where it is.  Returns the path kept, or None.  A stream
    output (``-o -``, a FIFO or a device such as /dev/full) gets none: nothing
    is written beside a device, and its one error line stands alone.
    """
    if not raw_path or not os.path.isfile(raw_path) or os.path.getsize(raw_path) == 0:
        return None
    if output_stream(output):
        return None
    name = os.path.basename(output) + ".raw" if output and output != "-" else "pyprof-recording.raw"
    places = [output + ".raw"] if output and output != "-" else []
    places += [os.path.join(os.getcwd(), name), os.path.join(os.path.expanduser("~"), name)]
    for place in places:
        try:
            shutil.copyfile(raw_path, place)
        except OSError:
            continue
        print("pyprof: the recording is kept in %s (render it again with 'pyprof convert %s -o FILE')"
              % (place, place), file=sys.stderr)
        return place
    return None


def write_stdout(text):
    """Write *text* to standard output; a reader that has gone (``| head``) is no error.

    Returns False when the pipe was closed (stdout then points to /dev/null,
    so that Python's exit does not complain either).
    """
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
        return True
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return False
