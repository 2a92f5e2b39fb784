"""Self-contained interactive SVG flame graphs.

The SVG needs nothing but a browser: click a frame to zoom into it, "Reset
Zoom" to go back; type a regular expression in the search box (Ctrl-F goes
there, Escape clears it) to highlight the frames it matches and see the share
of samples under them.  The layout follows flamegraph.pl: the root ("all") at
the bottom, callees above their callers, siblings sorted by name;
``icicle=True`` turns it upside down.

Frames are coloured by kind, as the legend says: Python code in warm colours,
native code in aqua, the interpreter's own native code (libpython, or a
static ``python3.X`` executable) in blue, the kernel in grey, markers (what
could not be read) in green and thread/process roots in lavender.
"""

import json
import os
import re
import zlib

from . import raw

IMAGE_WIDTH = 1200
FRAME_HEIGHT = 16
FONT_SIZE = 12
CHAR_WIDTH = FONT_SIZE * 0.59
X_PAD = 10
HEADER_HEIGHT = 80
FOOTER_HEIGHT = 32
MIN_FRACTION = 0.001  # frames narrower than 0.1 % of the total are left out
TITLE_CHARS = 110
LEGEND_Y = 64
SEARCH_WIDTH = 240
HIGHLIGHT = "rgb(230,0,230)"

# Characters that XML 1.0 forbids even when escaped.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_PY_FRAME = re.compile(r" \([^()]*:\d+\)$")
_NATIVE_FRAME = re.compile(r" \([^()]*\)$")
_ROOT_FRAME = re.compile(r"(thread|process) \d+( |$)")
_MODULE = re.compile(r" \(([^()]*)\)$")
_INTERPRETER_MODULE = re.compile(r"(lib)?python\d")
KERNEL_MODULE = "[kernel]"

# The legend: (kind, label), in the order shown.
LEGEND = (
    ("py", "Python"),
    ("native", "native"),
    ("interp", "interpreter"),
    ("kernel", "kernel"),
    ("marker", "marker"),
    ("thread", "thread/process"),
)
LEGEND_ITEM_WIDTH = 112


def xml_escape(text, quote=False):
    """Escape *text* for XML character data (and attribute values if *quote*)."""
    text = _XML_INVALID.sub("\ufffd", text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if quote:
        text = text.replace('"', "&quot;").replace("'", "&#39;")
    return text


def frame_kind(text):
    """Guess a frame's kind from its collapsed-format *text*."""
    if text.startswith("<") and text.endswith(">"):
        return "marker"
    match = _ROOT_FRAME.match(text)
    if match:
        return match.group(1)
    if _NATIVE_FRAME.search(text) and not _PY_FRAME.search(text):
        return "native"
    return "py"


def native_kind(module):
    """Return the kind to colour a native frame of *module* with.

    ``kernel`` for ``[kernel]``, ``interp`` for the interpreter itself
    (``libpython3.11.so.1.0``, a static ``python3.11`` executable), else
    ``native``.
    """
    if module == KERNEL_MODULE:
        return "kernel"
    if _INTERPRETER_MODULE.match(os.path.basename(module)):
        return "interp"
    return "native"


def display_kind(text, kind):
    """Return the colour kind of a frame: its *kind*, native frames refined by module."""
    if kind != "native":
        return kind
    match = _MODULE.search(text)
    return native_kind(match.group(1)) if match else kind


def _palette(kind, v1, v2, v3):
    """Return the (r, g, b) of a frame of *kind*; v1..v3 in [0, 1] pick the shade."""
    if kind == "py":  # warm: red through orange to yellow
        return (205 + 50 * v3, 230 * v1, 55 * v2)
    if kind == "native":  # aqua
        return (50 + 60 * v1, 165 + 55 * v1, 190 + 55 * v2)
    if kind == "interp":  # blue: the interpreter's own C code
        return (70 + 40 * v1, 110 + 40 * v1, 225 + 30 * v2)
    if kind == "kernel":  # grey
        return (150 + 40 * v1, 150 + 40 * v1, 150 + 40 * v1)
    if kind in ("thread", "process"):  # lavender
        return (160 + 40 * v1, 150 + 40 * v1, 230 + 25 * v2)
    if kind == "marker":  # green: something could not be read
        return (110 + 40 * v1, 190 + 30 * v1, 110 + 40 * v1)
    return (225, 225, 225)  # the "all" root


def frame_color(text, kind):
    """Return the fill colour of a frame of *kind*: same text, same colour."""
    h = zlib.crc32(text.encode("utf-8", "replace"))
    v1, v2, v3 = (h & 0xFF) / 255.0, ((h >> 8) & 0xFF) / 255.0, ((h >> 16) & 0xFF) / 255.0
    return "rgb(%d,%d,%d)" % _palette(kind, v1, v2, v3)


def kind_color(kind):
    """Return the colour that stands for *kind* in the legend."""
    return "rgb(%d,%d,%d)" % _palette(kind, 0.5, 0.5, 0.5)


def fit_label(name, width):
    """Truncate *name* to what fits in a frame *width* pixels wide."""
    chars = int((width - 6) / CHAR_WIDTH)
    if chars < 3:
        return ""
    if len(name) <= chars:
        return name
    return name[: chars - 2] + ".."


class _Node:
    __slots__ = ("name", "kind", "count", "children", "label")

    def __init__(self, name, kind, label=None):
        self.name = name
        self.kind = kind
        self.count = 0
        self.children = {}
        self.label = label


def _build_tree(stacks):
    """The call tree of *stacks*: frames are ``(text, kind)`` or ``(text, kind, label)``."""
    root = _Node("all", "root")
    for frames, count in stacks:
        root.count += count
        node = root
        for frame in frames:
            text = frame[0]
            child = node.children.get(text)
            if child is None:
                label = frame[2] if len(frame) > 2 and frame[2] != text else None
                child = node.children[text] = _Node(text, display_kind(text, frame[1]), label)
            child.count += count
            node = child
    return root


# --------------------------------------------------------------------------- #
# Short paths and one box per function
# --------------------------------------------------------------------------- #

_PACKAGES_DIR = re.compile(r"/(?:site|dist)-packages/(.+)$")
_STDLIB_DIR = re.compile(r"/lib(?:64)?/python\d+\.\d+t?/(.+)$")
STDLIB = "<stdlib>"


def short_path(path, root=None):
    """The label form of a Python file *path*, as py-spy and speedscope users expect.

    ``site-packages/flask/app.py`` -> ``flask/app.py``; the standard library
    ``/usr/lib/python3.11/json/encoder.py`` -> ``<stdlib>/json/encoder.py``;
    a file under the project *root* (the target's working directory) ->
    its relative path; anything else (``<frozen ...>``, ``<string>``, other
    absolute paths) is kept.  The tooltip always has the full path.
    """
    if not path.startswith("/"):
        return path
    m = _PACKAGES_DIR.search(path)
    if m:
        return m.group(1)
    m = _STDLIB_DIR.search(path)
    if m:
        return "%s/%s" % (STDLIB, m.group(1))
    if root:
        root = root.rstrip("/") + "/"
        if path.startswith(root):
            return path[len(root):]
    return path


def function_stacks(profile, threads=False, lines=False, root=None):
    """Yield ``(frames, count)`` of *profile* with a short-path label per frame.

    Without *lines* a Python frame is its function, ``qualname (file)``: all
    the lines of a function make one box.  Frames are ``(text, kind, label)``:
    *text* (full path) tells frames apart and is the tooltip, *label* is drawn.
    """
    def describe(f):
        if f.kind != "py":
            text = raw.frame_text(f)
            return text, f.kind, text
        if lines:
            return (raw.frame_text(f), f.kind,
                    raw.sanitize("%s (%s:%d)" % (f.name, short_path(f.file, root), f.line)))
        return (raw.sanitize("%s (%s)" % (f.name, f.file)), f.kind,
                raw.sanitize("%s (%s)" % (f.name, short_path(f.file, root))))

    return raw.iter_stacks(profile, threads, describe)


def _layout(root):
    """Yield ``(node, start, depth)`` for every frame wide enough to draw.

    *start* is the frame's left edge in samples; siblings are sorted by name.
    """
    min_count = root.count * MIN_FRACTION
    todo = [(root, 0, 0)]
    while todo:
        node, start, depth = todo.pop()
        yield node, start, depth
        for name in sorted(node.children):
            child = node.children[name]
            if child.count >= min_count:
                todo.append((child, start, depth + 1))
            start += child.count


def _frame_svg(node, x, y, width, total):
    pct = 100.0 * node.count / total
    label = node.label or node.name
    return (
        '<g%s><title>%s (%d samples, %.2f%%)</title>'
        '<rect x="%.2f" y="%d" width="%.2f" height="%d" fill="%s" rx="2" ry="2"/>'
        '<text x="%.2f" y="%.1f">%s</text></g>'
        % (
            ' data-label="%s"' % xml_escape(label, quote=True) if node.label else "",
            xml_escape(node.name),
            node.count,
            pct,
            x,
            y,
            width,
            FRAME_HEIGHT - 1,
            frame_color(node.name, node.kind),
            x + 3,
            y + FRAME_HEIGHT - 4.5,
            xml_escape(fit_label(label, width)),
        )
    )


def _frames_svg(root, icicle):
    """Return the frame elements and the depth of the deepest frame drawn."""
    scale = (IMAGE_WIDTH - 2 * X_PAD) / float(root.count)
    placed = list(_layout(root))
    max_depth = max(depth for _, _, depth in placed)
    elements = []
    for node, start, depth in placed:
        if icicle:
            y = HEADER_HEIGHT + depth * FRAME_HEIGHT
        else:
            y = HEADER_HEIGHT + (max_depth - depth) * FRAME_HEIGHT
        elements.append(_frame_svg(node, X_PAD + start * scale, y, node.count * scale, root.count))
    return elements, max_depth


def render(stacks, title="", subtitle="", icicle=False):
    """Return an SVG flame graph (str) of *stacks*.

    *stacks* is an iterable of ``(frames, count)`` where *frames* is a
    root-first sequence of ``(text, kind)`` pairs; kind is one of ``py``,
    ``native``, ``marker``, ``thread``, ``process``.  Native frames are
    coloured by their module (the ``(module)`` at the end of the text): see
    :func:`native_kind`.
    """
    root = _build_tree(stacks)
    if root.count:
        elements, max_depth = _frames_svg(root, icicle)
        frames_height = (max_depth + 1) * FRAME_HEIGHT
    else:
        elements = ['<text x="%d" y="%d" id="empty">No samples</text>' % (X_PAD, HEADER_HEIGHT + FONT_SIZE)]
        frames_height = FRAME_HEIGHT
    height = HEADER_HEIGHT + frames_height + FOOTER_HEIGHT
    config = json.dumps(
        {"icicle": icicle, "xpad": X_PAD, "charWidth": CHAR_WIDTH, "highlight": HIGHLIGHT, "total": root.count}
    )
    return _TEMPLATE % {
        "width": IMAGE_WIDTH,
        "height": height,
        "xpad": X_PAD,
        "style": _STYLE,
        "script": "var CONFIG = %s;\n%s" % (config, _SCRIPT),
        "center": IMAGE_WIDTH // 2,
        "right": IMAGE_WIDTH - X_PAD,
        "search_x": IMAGE_WIDTH - X_PAD - SEARCH_WIDTH,
        "search_width": SEARCH_WIDTH,
        "legend": _legend_svg(),
        "title": xml_escape(_shorten(title, TITLE_CHARS)),
        "subtitle": xml_escape(_shorten(subtitle, TITLE_CHARS + 30)),
        "bottom": height - FOOTER_HEIGHT / 2 + 4,
        "frames": "\n".join(elements),
    }


def _legend_svg():
    """Return the legend: a colour swatch and a label per frame kind, centred."""
    left = (IMAGE_WIDTH - LEGEND_ITEM_WIDTH * len(LEGEND)) // 2
    items = []
    for i, (kind, label) in enumerate(LEGEND):
        x = left + i * LEGEND_ITEM_WIDTH
        items.append(
            '<g class="legend-item" data-kind="%s"><rect x="%d" y="%d" width="12" height="12" fill="%s" rx="2" ry="2"/>'
            '<text x="%d" y="%d">%s</text></g>' % (kind, x, LEGEND_Y - 10, kind_color(kind), x + 16, LEGEND_Y, label)
        )
    return "\n".join(items)


def _shorten(text, limit):
    return text if len(text) <= limit else text[: limit - 3] + "..."


def render_collapsed(pairs, title="", subtitle="", icicle=False):
    """Return an SVG flame graph of collapsed ``(stack, count)`` *pairs*.

    *stack* is a collapsed-format stack (``root;...;leaf``); frame kinds are
    guessed from the frame text.
    """
    stacks = (([(t, frame_kind(t)) for t in stack.split(";")], count) for stack, count in pairs)
    return render(stacks, title, subtitle, icicle)


def render_profile(profile, threads=False, icicle=False, lines=True, root=None):
    """Return an SVG flame graph of a :class:`pyprof.raw.Profile`.

    *lines* False: one box per Python function (the CLI's default) instead of
    one per line; labels use short paths (:func:`short_path`, *root* the
    project directory) either way when *root* is given or *lines* is False.
    """
    if lines and root is None:
        stacks = raw.iter_stacks(profile, threads)
    else:
        stacks = function_stacks(profile, threads, lines, root)
    return render(stacks, profile_title(profile), profile_subtitle(profile), icicle)


def profile_title(profile):
    """Return the title line: the command, the sample count and the error rate.

    E.g. ``python3 app.py \u2014 377 samples, 3 errors (0.8%)``; also the merge
    failure rate when the profile counts merge failures (native stacks).
    """
    meta = profile.meta
    command = meta.get("cmdline") or "PID %s" % meta.get("pid", "?")
    counts = " \u2014 " + raw.stats_text(profile)
    return _shorten(command, TITLE_CHARS - len(counts)) + counts


def profile_subtitle(profile):
    """Return the details line under the title (PID, Python, duration, rate)."""
    meta = profile.meta
    parts = ["PID %s" % meta.get("pid", "?")]
    if "python_version" in meta:
        parts.append("Python %s" % meta["python_version"])
    if "duration_s" in meta:
        parts.append("%.1f s" % float(meta["duration_s"]))
    if raw.weighted_ns(meta):
        parts.append("--off-cpu: widths are time on CPU and off CPU ([off-cpu])")
    elif meta.get("event"):
        parts.append("event " + raw.event_text(meta))
    elif "rate_hz" in meta:
        parts.append("%s Hz" % meta["rate_hz"])
    parts.append(
        "%d transient, %d bad-data errors, %d late ticks"
        % (profile.stat("errors_transient"), profile.stat("errors_baddata"), profile.stat("late_ticks"))
    )
    if profile.stat("truncated"):
        parts.append("%d truncated stacks" % profile.stat("truncated"))
    return ", ".join(parts)


_TEMPLATE = """\
<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<svg version="1.1" width="%(width)d" height="%(height)d" viewBox="0 0 %(width)d %(height)d" \
xmlns="http://www.w3.org/2000/svg" onload="init(evt)">
<defs>
<linearGradient id="background" y1="0" y2="1" x1="0" x2="0">
<stop stop-color="#eeeeee" offset="5%%"/><stop stop-color="#eeeeb0" offset="95%%"/>
</linearGradient>
</defs>
<style type="text/css"><![CDATA[
%(style)s]]></style>
<script type="text/ecmascript"><![CDATA[
%(script)s]]></script>
<rect x="0" y="0" width="100%%" height="100%%" fill="url(#background)"/>
<text id="title" x="%(center)d" y="24">%(title)s</text>
<text id="subtitle" x="%(center)d" y="42">%(subtitle)s</text>
<text id="unzoom" class="button hide" x="%(xpad)d" y="64">Reset Zoom</text>
<g id="legend">
%(legend)s
</g>
<foreignObject x="%(search_x)d" y="49" width="%(search_width)d" height="22">
<input xmlns="http://www.w3.org/1999/xhtml" id="search" type="text" spellcheck="false" \
placeholder="Search (regular expression, Ctrl-F)" title="Highlight the frames matching a regular expression"/>
</foreignObject>
<text id="details" x="%(xpad)d" y="%(bottom).1f"> </text>
<text id="matched" x="%(right)d" y="%(bottom).1f"> </text>
<g id="frames">
%(frames)s
</g>
</svg>
"""

_STYLE = """\
text { font-family: Verdana, "DejaVu Sans", sans-serif; font-size: 12px; fill: #000; }
#title { text-anchor: middle; font-size: 17px; }
#subtitle { text-anchor: middle; fill: #555; }
#matched { text-anchor: end; }
#search { box-sizing: border-box; width: 100%; height: 20px; font: 12px Verdana, "DejaVu Sans", sans-serif;
          border: 1px solid #999; border-radius: 3px; padding: 1px 4px; background: #fff; }
#search.invalid { border-color: #d00; background: #fee; }
.button { cursor: pointer; fill: #00c; }
.button:hover { text-decoration: underline; }
.hide { display: none; }
#frames g { cursor: pointer; }
#frames g:hover rect { stroke: #000; stroke-width: 0.5; }
#frames g.parent rect { opacity: 0.5; }
#frames text { pointer-events: none; white-space: pre; }
"""

_SCRIPT = r"""
"use strict";
var frames = [], totalWidth, details, unzoomButton, searchBox, matched, currentSearch = null;

function init(evt) {
    var svg = document.documentElement;
    totalWidth = parseFloat(svg.getAttribute("width")) - 2 * CONFIG.xpad;
    details = document.getElementById("details");
    unzoomButton = document.getElementById("unzoom");
    searchBox = document.getElementById("search");
    matched = document.getElementById("matched");
    var groups = document.getElementById("frames").getElementsByTagName("g");
    for (var i = 0; i < groups.length; i++) {
        var g = groups[i], rect = g.getElementsByTagName("rect")[0];
        var title = g.getElementsByTagName("title")[0].textContent;
        frames.push({
            g: g, rect: rect, text: g.getElementsByTagName("text")[0],
            name: title.replace(/ \([^(]*\)$/, ""), title: title,
            label: g.getAttribute("data-label") || title.replace(/ \([^(]*\)$/, ""),
            x: parseFloat(rect.getAttribute("x")), w: parseFloat(rect.getAttribute("width")),
            y: parseFloat(rect.getAttribute("y")), fill: rect.getAttribute("fill")
        });
        g.addEventListener("click", zoomHandler(frames[i]));
        g.addEventListener("mouseover", detailsHandler(frames[i]));
        g.addEventListener("mouseout", function () { details.textContent = " "; });
    }
    unzoomButton.addEventListener("click", unzoom);
    fillWidth();
    window.addEventListener("resize", fillWidth);
    searchBox.addEventListener("input", function () { search(searchBox.value); });
    searchBox.addEventListener("keydown", function (e) {
        if (e.key === "Escape") { searchBox.value = ""; resetSearch(); searchBox.blur(); }
    });
    window.addEventListener("keydown", function (e) {
        if ((e.ctrlKey || e.metaKey) && (e.key === "f" || e.keyCode === 70)) {
            e.preventDefault();
            searchBox.focus();
            searchBox.select();
        } else if (e.key === "Escape" && document.activeElement !== searchBox) {
            if (!unzoomButton.classList.contains("hide")) {
                unzoom();
            } else {
                searchBox.value = "";
                resetSearch();
            }
        }
    });
}

// Fill the browser window's width: the drawing (its viewBox) is scaled, so
// every coordinate the script works with stays the same.
function fillWidth() {
    var svg = document.documentElement, box = svg.viewBox.baseVal;
    if (!box || !box.width || !window.innerWidth || svg.parentNode !== document) return;
    var width = Math.max(600, window.innerWidth - 2);
    svg.setAttribute("width", width);
    svg.setAttribute("height", Math.round(box.height * width / box.width));
}

function zoomHandler(f) { return function () { zoom(f); }; }
function detailsHandler(f) { return function () { details.textContent = "Function: " + f.title; }; }

function fitText(f, width) {
    var chars = Math.floor((width - 6) / CONFIG.charWidth), label = "";
    if (chars >= 3) label = f.label.length <= chars ? f.label : f.label.substring(0, chars - 2) + "..";
    f.text.textContent = label;
}

function place(f, x, width, cls) {
    f.rect.setAttribute("x", x.toFixed(2));
    f.rect.setAttribute("width", width.toFixed(2));
    f.text.setAttribute("x", (x + 3).toFixed(2));
    f.g.setAttribute("class", cls);
    fitText(f, width);
}

function zoom(target) {
    var eps = 0.05, ratio = totalWidth / target.w;
    unzoomButton.classList.remove("hide");
    for (var i = 0; i < frames.length; i++) {
        var f = frames[i];
        var outside = f.x + f.w <= target.x + eps || f.x >= target.x + target.w - eps;
        var ancestor = CONFIG.icicle ? f.y < target.y : f.y > target.y;
        if (outside) {
            f.g.setAttribute("class", "hide");
        } else if (ancestor) {
            place(f, CONFIG.xpad, totalWidth, "parent");
        } else if (f.x >= target.x - eps && f.x + f.w <= target.x + target.w + eps) {
            place(f, CONFIG.xpad + (f.x - target.x) * ratio, f.w * ratio, "");
        } else {
            f.g.setAttribute("class", "hide");
        }
    }
}

function unzoom() {
    unzoomButton.classList.add("hide");
    for (var i = 0; i < frames.length; i++) place(frames[i], frames[i].x, frames[i].w, "");
}

// Highlight the frames whose name matches the regular expression *term* and
// show the share of all samples under them (nested matches counted once).
function search(term) {
    if (!term) { resetSearch(); return; }
    var re;
    try {
        re = new RegExp(term);
    } catch (err) {
        searchBox.classList.add("invalid");
        matched.textContent = "Invalid regular expression";
        return;
    }
    searchBox.classList.remove("invalid");
    var ranges = [];
    for (var i = 0; i < frames.length; i++) {
        var f = frames[i], hit = re.test(f.name);
        f.rect.setAttribute("fill", hit ? CONFIG.highlight : f.fill);
        if (hit) ranges.push([f.x, f.x + f.w]);
    }
    ranges.sort(function (a, b) { return a[0] - b[0]; });
    var covered = 0, end = -1;
    for (var j = 0; j < ranges.length; j++) {
        var start = Math.max(ranges[j][0], end);
        if (ranges[j][1] > start) { covered += ranges[j][1] - start; end = ranges[j][1]; }
    }
    var share = totalWidth > 0 ? covered / totalWidth : 0;
    currentSearch = term;
    matched.textContent = "Matched: " + (100 * share).toFixed(1) + "% of samples (" +
        Math.round(share * CONFIG.total) + " of " + CONFIG.total + ")";
    return share;
}

function resetSearch() {
    searchBox.classList.remove("invalid");
    if (currentSearch === null) { matched.textContent = " "; return; }
    for (var i = 0; i < frames.length; i++) frames[i].rect.setAttribute("fill", frames[i].fill);
    currentSearch = null;
    matched.textContent = " ";
}
"""
