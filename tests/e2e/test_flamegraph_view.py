"""Flame graphs people can read (issue 12): one box per function with a short
path, the SVG filling the browser's width; checked in the SVG's text and in a
headless Chromium screenshot of a demo-like program's profile.
"""
import re
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
import zlib

import pytest

import pyprof_e2e as e2e

SVG = "{http://www.w3.org/2000/svg}"
PROJECT = e2e.WORKLOADS / "demo_project"
WINDOW = (1600, 1100)


def _record(python, out, extra=()):
    # run from the project directory, as a user would: its files get relative paths
    proc = e2e.spawn(e2e.pyprof_cmd(["record", "-r", "200", "-o", out, *extra, "--", python, "app.py", "2.5"]),
                     cwd=str(PROJECT), env=e2e.child_env({"PYTHONPATH": str(e2e.REPO)}),
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, encoding="utf-8", errors="replace")
    result = e2e.finish_pyprof(proc, timeout=120)
    assert result.returncode == 0, e2e.describe(result)


def _frames(svg_path):
    """[(label drawn, tooltip)] of every frame box."""
    root = ET.parse(str(svg_path)).getroot()
    out = []
    for g in root.find(SVG + "g[@id='frames']"):
        out.append((g.get("data-label") or g.find(SVG + "text").text or "", g.find(SVG + "title").text))
    return root, out


def _png_pixels(path):
    """(width, height, rows of RGB tuples) of an 8-bit RGB/RGBA PNG (what Chromium writes)."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", chunk[:10])
            assert depth == 8 and color in (2, 6), (depth, color)
            bpp = 4 if color == 6 else 3
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + b) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append([tuple(line[x * bpp:x * bpp + 3]) for x in range(width)])
        prev = line
    return width, height, rows


def test_default_flame_graph_has_whole_functions_and_short_paths(any_interp, tmp_path):
    out = tmp_path / "demo.svg"
    _record(any_interp.path, out)
    _, frames = _frames(out)
    labels = [label for label, _ in frames]
    # one box per function: compute_primes is one box, not one per line
    assert labels.count("compute_primes (app.py)") == 1, labels
    assert not [label for label in labels if label.startswith("compute_primes (app.py:")], labels
    # short paths: the project file relative, the standard library as <stdlib>/...
    assert any(re.match(r"dumps \(<stdlib>/json/__init__\.py\)$", label) for label in labels), labels
    assert not [label for label in labels if re.search(r"\(/(usr|root|home|tmp)/", label)], labels
    # ... and the tooltip keeps the full path
    tip = [title for label, title in frames if label == "compute_primes (app.py)"][0]
    assert tip.startswith("compute_primes (%s/app.py) (" % PROJECT), tip
    # --lines keeps one box per line
    lines_out = tmp_path / "lines.svg"
    _record(any_interp.path, lines_out, ["--lines"])
    per_line = [label for label, _ in _frames(lines_out)[1] if label.startswith("compute_primes (app.py:")]
    assert len(per_line) >= 2, per_line


def test_screenshot_fills_the_width_with_readable_boxes(tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "chromium is needed for this test (tools/deps.sh installs it)"
    python = str(e2e.SYSTEM_PYTHON) if e2e.SYSTEM_PYTHON.exists() else None
    if python is None:
        pytest.skip("no /usr/bin/python3")
    out = tmp_path / "demo.svg"
    _record(python, out)
    root, frames = _frames(out)
    assert "compute_primes (app.py)" in [label for label, _ in frames]
    shot = tmp_path / "demo.png"
    run = subprocess.run([chromium, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
                          "--hide-scrollbars", "--user-data-dir=%s" % (tmp_path / "profile"),
                          "--window-size=%d,%d" % WINDOW, "--screenshot=%s" % shot, out.as_uri()],
                         capture_output=True, text=True, timeout=180)
    assert run.returncode == 0 and shot.exists(), run.stderr[-2000:]
    width, height, rows = _png_pixels(str(shot))
    assert (width, height) == WINDOW
    # non-blank: many colours, and a good share of warm (Python) frame pixels
    colours = {px for row in rows[::7] for px in row[::7]}
    assert len(colours) > 30, len(colours)
    warm = sum(1 for row in rows[::4] for r, g, b in row[::4] if r > 190 and g < 150 and b < 90)
    assert warm > 0.03 * (width // 4) * (height // 4), warm
    # the drawing fills the window's width: its background reaches the right edge
    svg_height = float(root.get("height")) * width / float(root.get("width"))
    y = int(min(svg_height, height) / 2)
    assert rows[y][width - 5] != (255, 255, 255), "the SVG does not fill the browser's width"
    # ... by its own script, not only by the browser's scaling (Firefox draws width="1200" as is)
    dom = subprocess.run([chromium, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
                          "--user-data-dir=%s" % (tmp_path / "profile"), "--window-size=%d,%d" % WINDOW,
                          "--virtual-time-budget=2000", "--dump-dom", out.as_uri()],
                         capture_output=True, text=True, timeout=180)
    svg_tag = re.search(r"<svg[^>]*>", dom.stdout)
    assert svg_tag, dom.stderr[-2000:]
    drawn = float(re.search(r' width="([\d.]+)"', svg_tag.group(0)).group(1))
    assert drawn >= WINDOW[0] - 20, svg_tag.group(0)
    # and the widest box, <module> (app.py) at the bottom, spans nearly all of it
    bottom = [row for row in rows[: int(min(svg_height, height))]
              if sum(1 for r, g, b in row if r > 190 and g < 150 and b < 90) > 0.8 * width]
    assert bottom, "no frame row spans 80% of the window"
