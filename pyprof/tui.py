"""The curses screen shared by ``pyprof report`` and ``pyprof top``.

:func:`run` sets the screen up (locale, no cursor, keypad), hands it to the
command's loop, and restores the terminal whatever happens: ``q`` or Ctrl-C
quits, a terminal curses cannot drive is the one-line error of errors.py.
:func:`put` writes text clipped to the window; :func:`next_key` reads a key,
absorbing a resize.  curses is imported only when a screen is used.
"""

import locale

from .errors import no_interactive_view


def put(win, y, x, text, attr=0):
    """addnstr clipped to the window; never raises for a small window."""
    import curses

    height, width = win.getmaxyx()
    if y < 0 or y >= height or x < 0 or x >= width:
        return
    room = width - x - (1 if y == height - 1 else 0)
    if room <= 0:
        return
    try:
        win.addnstr(y, x, text, room, attr)
    except curses.error:
        pass


def next_key(win):
    """The next key of *win* (a str, or an int curses key code), or None for a
    resize or no key (a timeout): the caller just draws again."""
    import curses

    try:
        key = win.get_wch()
    except curses.error:
        return None
    if key == curses.KEY_RESIZE:
        try:
            curses.update_lines_cols()
        except AttributeError:
            pass
        return None
    return key


def run(loop, hint, timeout_ms=None):
    """Run ``loop(stdscr)`` in a curses screen; the terminal is restored either way.

    *timeout_ms*: the longest :func:`next_key` waits (None: until a key).
    Ctrl-C ends the loop like ``q``; a curses failure raises the
    :class:`errors.PyprofError` of *hint*.
    """
    import curses

    try:
        locale.setlocale(locale.LC_ALL, "")
    except locale.Error:
        pass

    def main(stdscr):
        try:
            curses.curs_set(0)
        except curses.error:
            pass
        stdscr.keypad(True)
        if timeout_ms is not None:
            stdscr.timeout(timeout_ms)
        loop(stdscr)

    try:
        curses.wrapper(main)
    except KeyboardInterrupt:
        pass  # Ctrl-C quits, like q (curses.wrapper has restored the terminal)
    except curses.error as e:
        raise no_interactive_view(e, hint) from e
