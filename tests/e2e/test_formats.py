"""Output formats of a real recording, checked with the tools that read them.

split.py (alpha/beta/gamma burning 60/30/10 % of the time) is recorded once
to raw with --timeline and converted to every format:

* pprof: `go tool pprof -top` must report for each workload function the same
  flat % as the collapsed file's share of samples with it as the leaf.
* speedscope: the structure of speedscope's file-format schema; the timeline
  has each thread's samples in time order, as the raw file's timestamps say.
* SVG flame graph: well-formed XML, and in headless Chromium its script runs
  without errors, search matches the collapsed share, zoom and reset work.

The tools are required: a missing `go` or `chromium` fails the test.
"""
import collections
import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest

import pyprof_e2e as e2e

RATE = 500
DURATION = 3
WORKLOAD_SLACK = 4          # split.py outlives the recording by this much
FUNCS = ("alpha", "beta", "gamma")
ROUNDING_PP = 0.15          # pprof prints flat% with two decimals at most
SCHEMA = "https://www.speedscope.app/file-format-schema.json"


def require_tool(name, *candidates, package):
    """Return the path of a tool the test needs; fail (never skip) without it."""
    for candidate in (name,) + candidates:
        path = shutil.which(candidate)
        if path:
            return path
    pytest.fail("%s is not installed (Debian package %s; tools/deps.sh installs it): "
                "needed to check pyprof's output" % (name, package), pytrace=False)


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    """Record split.py once (raw, --timeline) and convert it to every format."""
    interp = e2e.find_system_python() or next(i for _, i in e2e.discover_interpreters() if i)
    tmp = tmp_path_factory.mktemp("formats")
    raw_path = str(tmp / "split.raw")
    e2e.begin_test()
    try:
        result = e2e.run_pyprof(
            ["record", "-F", RATE, "-d", DURATION, "--timeline", "--format", "raw", "-o", raw_path,
             "--", interp.path, e2e.workload("split.py"), DURATION + WORKLOAD_SLACK],
            timeout=DURATION + 60)
    finally:
        e2e.reap_children()
    assert result.returncode == 0 and os.path.isfile(raw_path), e2e.describe(result)
    outputs = {"raw": raw_path}
    for fmt, name in (("collapsed", "split.txt"), ("pprof", "split.pb.gz"),
                      ("speedscope", "split.speedscope.json"), ("flamegraph", "split.svg")):
        outputs[fmt] = str(tmp / name)
        converted = e2e.run_pyprof(["convert", raw_path, "--format", fmt, "-o", outputs[fmt]])
        assert converted.returncode == 0, e2e.describe(converted)
        assert "Traceback" not in converted.stderr, e2e.describe(converted)
    with open(outputs["collapsed"], encoding="utf-8") as f:
        collapsed = e2e.parse_collapsed(f.read())
    total = sum(collapsed.values())
    shares = collections.Counter()
    for stack, count in collapsed.items():
        shares[e2e.frame_func(stack[-1])] += 100.0 * count / total
    assert total >= RATE * DURATION // 2, "only %d samples in %s" % (total, raw_path)
    for func in FUNCS:
        assert shares[func] > 3, "%s has %.1f%% of the samples: %s" % (func, shares[func], dict(shares))
    return outputs, collapsed, shares


def read_raw_timeline(path):
    """{tid: [leaf function name of each sample, in time order]}, from the raw file's P records.

    A reader of its own (docs/format.md), independent of pyprof.raw."""
    strings, frames, stacks, threads, samples = {}, {}, {}, {}, []
    with open(path, encoding="utf-8") as f:
        for line in f:
            fields = line.rstrip("\n").split("\t")
            if fields[0] == "s":
                strings[int(fields[1])] = fields[2]
            elif fields[0] == "F":
                frames[int(fields[1])] = strings[int(fields[3])]
            elif fields[0] == "K":
                stacks[int(fields[1])] = [int(x) for x in fields[2].split()]
            elif fields[0] == "T":
                threads[int(fields[1])] = int(fields[2])
            elif fields[0] == "P":
                samples.append((int(fields[3]), threads[int(fields[2])], frames[stacks[int(fields[1])][-1]]))
    timeline = collections.defaultdict(list)
    for _, tid, leaf in sorted(samples):
        timeline[tid].append(leaf)
    return timeline


# --------------------------------------------------------------------------- #
# pprof
# --------------------------------------------------------------------------- #

def pprof_top(go, path):
    """{function: flat %} from `go tool pprof -top`."""
    env = dict(os.environ, PPROF_TMPDIR=os.path.dirname(path), HOME=os.path.dirname(path))
    out = subprocess.run([go, "tool", "pprof", "-top", "-nodecount=100", path],
                         capture_output=True, text=True, timeout=120, env=env)
    report = "go tool pprof -top exited %d\n--- stdout ---\n%s\n--- stderr ---\n%s" % (
        out.returncode, out.stdout[-4000:], out.stderr[-2000:])
    assert out.returncode == 0, report
    lines = out.stdout.splitlines()
    header = [i for i, line in enumerate(lines) if re.match(r"\s*flat\s+flat%\s+sum%\s+cum\s+cum%", line)]
    assert header, report
    flat = {}
    for line in lines[header[0] + 1:]:
        parts = line.split(None, 5)
        assert len(parts) == 6 and parts[1].endswith("%"), "unexpected line %r\n%s" % (line, report)
        flat[parts[5]] = float(parts[1][:-1])
    return flat, out, report


def test_pprof_flat_shares_match_collapsed(recording):
    go = require_tool("go", package="golang-go")
    outputs, collapsed, shares = recording
    with open(outputs["pprof"], "rb") as f:
        assert f.read(2) == b"\x1f\x8b", "not gzip-compressed"
    flat, out, report = pprof_top(go, outputs["pprof"])
    assert "Type: cpu" in out.stdout, report
    assert "symbolization failed" not in out.stderr.lower(), report
    for func in FUNCS:
        assert func in flat, "%s missing from the pprof report\n%s" % (func, report)
        assert abs(flat[func] - shares[func]) <= ROUNDING_PP, (
            "%s: pprof flat %.2f%%, collapsed %.3f%%\n%s" % (func, flat[func], shares[func], report))
    # <module> of split.py is a function name pprof must not mangle (it strips <...> from
    # names it takes for C++ unless they are marked as already demangled)
    assert "<module>" in flat, report


def test_pprof_comments_carry_the_stats(recording):
    go = require_tool("go", package="golang-go")
    outputs, collapsed, _ = recording
    out = subprocess.run([go, "tool", "pprof", "-comments", outputs["pprof"]],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("pyprof "), out.stdout
    assert "split.py" in lines[0] and "%d Hz" % RATE in lines[0], out.stdout
    summary = re.fullmatch(r"(\d+) samples, \d+ errors \(\d+\.\d%\)", lines[1])
    assert summary, out.stdout
    stats = dict(item.split("=") for item in lines[2].split()[1:])
    assert stats["samples"] == summary.group(1)
    # the samples counted are those in the collapsed file
    assert int(stats["samples"]) == sum(collapsed.values()), out.stdout


# --------------------------------------------------------------------------- #
# speedscope
# --------------------------------------------------------------------------- #

def check_speedscope(doc):
    """Assert the structure of speedscope's schema; return the frame names."""
    assert doc["$schema"] == SCHEMA
    frames = doc["shared"]["frames"]
    assert frames and all(isinstance(f["name"], str) and f["name"] for f in frames)
    assert doc["exporter"].startswith("pyprof ")
    assert doc["profiles"]
    for profile in doc["profiles"]:
        assert profile["type"] == "sampled"
        assert re.fullmatch(r"thread \d+( \(.*\))?", profile["name"]), profile["name"]
        assert len(profile["weights"]) == len(profile["samples"])
        assert all(w >= 0 for w in profile["weights"])
        assert profile["endValue"] >= profile["startValue"]
        for stack in profile["samples"]:
            assert all(isinstance(i, int) and 0 <= i < len(frames) for i in stack), stack
    return [f["name"] for f in frames]


def test_speedscope_timeline(recording):
    outputs, collapsed, shares = recording
    with open(outputs["speedscope"], encoding="utf-8") as f:
        doc = json.load(f)
    names = check_speedscope(doc)
    for func in FUNCS:
        assert func in names
    timeline = read_raw_timeline(outputs["raw"])
    assert timeline, "the raw file has no P (timestamp) records: --timeline did not reach the sampler"
    profiles = {int(p["name"].split()[1]): p for p in doc["profiles"]}
    assert set(profiles) == set(timeline)
    weighted = collections.Counter()
    for tid, profile in profiles.items():
        assert profile["unit"] == "nanoseconds"
        assert profile["endValue"] - profile["startValue"] == sum(profile["weights"])
        leaves = [names[stack[-1]] for stack in profile["samples"] if stack]
        # the samples are those of the raw file, in time order
        assert leaves == timeline[tid]
        for stack, weight in zip(profile["samples"], profile["weights"]):
            if stack:
                weighted[names[stack[-1]]] += weight
    # weighted by time, the shares stay close to the sample counts' (sampling is jittered)
    total = sum(weighted.values())
    for func in FUNCS:
        assert abs(100.0 * weighted[func] / total - shares[func]) < 4, (func, weighted, shares)


def test_speedscope_aggregated_from_record(tmp_path):
    interp = e2e.find_system_python() or next(i for _, i in e2e.discover_interpreters() if i)
    out = str(tmp_path / "split.speedscope.json")
    result = e2e.run_pyprof(
        ["record", "-F", RATE, "-d", 2, "--format", "speedscope", "-o", out,
         "--", interp.path, e2e.workload("split.py"), 2 + WORKLOAD_SLACK], timeout=60)
    assert result.returncode == 0, e2e.describe(result)
    with open(out, encoding="utf-8") as f:
        doc = json.load(f)
    names = check_speedscope(doc)
    # every sample is in, once (but those of a thread with no Python frame yet)
    samples = int(re.search(r"pyprof: (\d+) samples", result.stderr).group(1))
    assert re.search(r"\u2014 pyprof: %d samples, \d+ errors" % samples, doc["name"]), doc["name"]
    weights = sum(sum(p["weights"]) for p in doc["profiles"])
    assert 0.95 * samples <= weights <= samples, (weights, samples)
    for profile in doc["profiles"]:
        assert profile["unit"] == "none"
        assert profile["endValue"] == sum(profile["weights"])
        assert all(stack for stack in profile["samples"])
        stacks = [tuple(s) for s in profile["samples"]]
        assert len(stacks) == len(set(stacks)), "aggregated samples must be distinct stacks"
    leaves = {names[s[-1]] for p in doc["profiles"] for s in p["samples"]}
    assert set(FUNCS) <= leaves


# --------------------------------------------------------------------------- #
# SVG flame graph in a real browser
# --------------------------------------------------------------------------- #

# Injected right after <svg ...>: records script errors and, once loaded,
# drives the graph as a user would; the results land in attributes of the
# root element, which --dump-dom prints.
PROBE = """<script type="text/ecmascript"><![CDATA[
var probeErrors = [];
window.addEventListener("error", function (e) { probeErrors.push(String(e.message)); });
window.addEventListener("load", function () {
    var root = document.documentElement;
    function put(key, value) { root.setAttribute("data-probe-" + key, String(value)); }
    try {
        search("^(alpha|beta|gamma) ");
        put("matched", document.getElementById("matched").textContent);
        var alpha = frames.filter(function (f) { return /^alpha /.test(f.name); })
                          .sort(function (a, b) { return b.w - a.w; })[0];
        zoom(alpha);
        put("zoomed-width", alpha.rect.getAttribute("width"));
        put("unzoom-shown", !document.getElementById("unzoom").classList.contains("hide"));
        unzoom();
        put("unzoom-hidden", document.getElementById("unzoom").classList.contains("hide"));
        put("restored-width", alpha.rect.getAttribute("width") === alpha.w.toFixed(2));
    } catch (err) {
        probeErrors.push("probe: " + err);
    }
    put("errors", probeErrors.join(" | "));
    put("done", 1);
});
]]></script>
"""


def test_svg_flamegraph_in_chromium(recording, tmp_path):
    chromium = require_tool("chromium", "chromium-browser", package="chromium")
    outputs, collapsed, shares = recording
    with open(outputs["flamegraph"], encoding="utf-8") as f:
        svg = f.read()
    root = ET.fromstring(svg.encode("utf-8"))
    titles = [t.text for t in root.iter("{http://www.w3.org/2000/svg}title")]
    for func in FUNCS:
        assert any(t.startswith(func + " (") for t in titles), func
    title = root.find("{http://www.w3.org/2000/svg}text[@id='title']").text
    assert re.search(r"split\.py \d+ \u2014 \d+ samples, \d+ errors \(\d+\.\d%\)$", title), title

    start = svg.index(">", svg.index("<svg")) + 1
    probe_path = tmp_path / "probe.svg"
    probe_path.write_text(svg[:start] + "\n" + PROBE + svg[start:], encoding="utf-8")
    out = subprocess.run(
        [chromium, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
         "--user-data-dir=%s" % (tmp_path / "chromium-profile"), "--enable-logging=stderr", "--v=0",
         "--virtual-time-budget=3000", "--dump-dom", probe_path.as_uri()],
        capture_output=True, text=True, timeout=180)
    report = "chromium exited %d\n--- stderr ---\n%s\n--- DOM (start) ---\n%s" % (
        out.returncode, out.stderr[-3000:], out.stdout[:1500])
    assert out.returncode == 0, report
    console_errors = [line for line in out.stderr.splitlines()
                      if "Uncaught" in line or ("CONSOLE" in line and "rror" in line)]
    assert not console_errors, report
    dom_root = re.search(r"<svg[^>]*>", out.stdout)
    assert dom_root, report
    probe = dict(re.findall(r'data-probe-([\w-]+)="([^"]*)"', dom_root.group(0)))
    assert probe.get("done") == "1", "the probe did not run\n" + report
    assert probe["errors"] == "", report
    for func in FUNCS:
        assert func + " (" in out.stdout, report
    # search: the share of samples under alpha|beta|gamma, as in the collapsed file
    match = re.fullmatch(r"Matched: (\d+\.\d)% of samples \((\d+) of (\d+)\)", probe["matched"])
    assert match, probe
    expected = sum(shares[f] for f in FUNCS)
    assert abs(float(match.group(1)) - expected) <= 0.5, (probe["matched"], expected)
    assert int(match.group(3)) == sum(collapsed.values())
    # zoom into alpha: it spans the whole width; reset zoom puts it back
    assert abs(float(probe["zoomed-width"]) - 1180) < 0.5, probe
    assert probe["unzoom-shown"] == "true" and probe["unzoom-hidden"] == "true", probe
    assert probe["restored-width"] == "true", probe
