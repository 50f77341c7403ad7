#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""bench-report.py - Markdown report of shmdev_bench results.

Usage: bench-report.py [--baseline PATH]... [--out-dir DIR] [--no-plot]
                       [RESULTS.jsonl...]

Reads one results file per kernel (the JSON Lines shmdev_bench prints;
default: every build/bench/<kver>/results.jsonl) and prints, per kernel, a
Markdown table comparing shmdev with each peer of every benchmark, a Python
section when the file also holds the records of python/bench/pybench.py
(benchmarks "py-ring" and "py-array", and its meta record, "program":
"pybench"), then the TARGETS section (each target MET or GAP with the
measured figure, and every shmdev/peer time ratio that got more than 10%
worse than in the baseline as a REGRESSION), and last the line "targets: N
met, M gaps, K regressions".

A file's kernel is the name of its directory when it is called
results.jsonl (build/bench/<kver>/results.jsonl), else the meta record's
"kernel", else the file name without .jsonl.

  --baseline PATH  earlier results to compare with: a directory holding
                   <kver>.jsonl files, or a file (matched to the kernel its
                   meta record names; with one kernel, used for it). May be
                   given more than once. Default: bench/results/ of the
                   repository (the committed baselines).
  --out-dir DIR    where report.md goes, and <kver>/sweep.png (gnuplot: time
                   per page against segment size, one line per peer of the
                   sweep benchmark). Default: build/bench of the repository.
  --no-plot        do not run gnuplot

Exit status: 0 (gaps and regressions are reported, not failures), 2 for
bad usage or when no results file could be read.
"""

import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_PAGE = 4096
# A ratio this much worse than the baseline's is a regression.
REGRESSION_FACTOR = 1.10
# The figures each target needs, and what the report says when it is
# absent (counted as a gap).
MISSING = "missing"
# pybench.py: the program named in its meta record, and the targets of
# issue 15: shmdev.Ring at least 10 times the messages per second of
# multiprocessing.Queue with 64 B messages; a shared numpy array through
# shmdev.SharedMemory at parity with multiprocessing.shared_memory (taken
# as at most 10% slower, the noise the ring's memfd target allows too).
PYBENCH = "pybench"
PY_RING_SPEEDUP = 10.0
PY_ARRAY_PARITY = 1.10


# ---------------------------------------------------------------------------
# Records


def number(value):
    """A finite number from a JSON value, or None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def norm_peer(peer):
    return str(peer if peer is not None else "?").strip().lower().replace("_", "-")


def tokens(variant):
    """Words of a variant name: "huge attach-read" -> {"huge", "attach", "read"}."""
    return {t for t in re.split(r"[^a-z0-9.]+", variant.lower()) if t}


SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def parse_size(text):
    """The first size in a variant name ("size=64M" -> 67108864), or None."""
    m = re.search(r"(\d+)\s*([kmg]?)(?:i?b)?\b", text.lower())
    if not m:
        return None
    return int(m.group(1)) * SIZE_UNITS[m.group(2)]


def parse_count(text):
    """The first count in a variant name ("n=10k" -> 10000), or None."""
    m = re.search(r"(\d+)\s*([km]?)\b", text.lower())
    if not m:
        return None
    return int(m.group(1)) * {"": 1, "k": 1000, "m": 1000000}[m.group(2)]


def human_size(n):
    for unit, mult in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if n >= mult and n % mult == 0:
            return "%d%s" % (n // mult, unit)
    return "%d" % n


class Record:
    """One measurement (or error) of shmdev_bench."""

    def __init__(self, raw, page_size):
        self.raw = raw
        self.bench = str(raw.get("bench", "?")).strip().lower()
        self.variant = str(raw.get("variant", "") or "").strip()
        self.peer = norm_peer(raw.get("peer"))
        self.tokens = tokens(self.variant)
        self.page_size = page_size
        err = raw.get("error")
        skipped = raw.get("skipped")
        # A case the kernel cannot run (no THP) reads as an error record
        # that says so: it has no figures either.
        if err is None and skipped is not None:
            err = "skipped: %s" % skipped
        self.error = None if err is None else str(err)
        self.size = number(raw.get("size"))
        self.ops = number(raw.get("ops"))
        self.op = str(raw.get("op", "") or "")
        self.median = number(raw.get("median_ns"))
        self.ns_per_op = number(raw.get("ns_per_op"))
        if self.ns_per_op is None and self.median is not None and self.ops:
            self.ns_per_op = self.median / self.ops
        self.faults = number(raw.get("minflt_per_op"))
        self.syscalls = number(raw.get("syscalls_per_op"))
        extra = raw.get("extra")
        self.extra = extra if isinstance(extra, dict) else {}

    @property
    def shmdev_side(self):
        return self.peer.startswith("shmdev")

    @property
    def python(self):
        """Whether pybench.py made the record (its own section)."""
        return self.bench.startswith("py-") or self.bench == PYBENCH

    @property
    def ok(self):
        return self.error is None and (self.median is not None or self.ns_per_op is not None)

    def pages(self):
        """The segment's size in base pages, if the record says."""
        if self.size and self.page_size:
            return self.size / self.page_size
        return None

    def time_per_page(self):
        """Median time per base page (per op if the size is unknown)."""
        pages = self.pages()
        if pages and self.median is not None:
            return self.median / pages
        return self.ns_per_op

    def faults_per_page(self):
        """Minor faults per base page (per op if the size is unknown)."""
        pages = self.pages()
        if self.faults is None:
            return None
        if pages and self.ops:
            return self.faults * self.ops / pages
        return self.faults

    def throughput(self):
        """Bytes (or messages) per second from "extra", if it has one."""
        for key, value in self.extra.items():
            k = key.lower()
            if any(w in k for w in ("per_s", "per_sec", "bps", "throughput", "/s")):
                v = number(value)
                if v:
                    return v
        return None

    def describe(self):
        return "%s/%s/%s" % (self.bench, self.variant or "-", self.peer)


class Results:
    """One kernel's results file."""

    def __init__(self, path, kver=None):
        self.path = path
        self.meta = {}
        self.py_meta = {}
        self.records = []
        self.bad_lines = 0
        self.problem = None
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                lines = f.readlines()
        except OSError as e:
            lines = []
            self.problem = "cannot read %s: %s" % (path, e.strerror or e)
        raws = []
        for line in lines:
            line = line.strip()
            if not line:
                continue
            try:
                raw = json.loads(line)
            except ValueError:
                self.bad_lines += 1
                continue
            if not isinstance(raw, dict):
                self.bad_lines += 1
            elif raw.get("bench") == "meta" and raw.get("program") == PYBENCH:
                self.py_meta = raw
            elif raw.get("bench") == "meta":
                self.meta = raw
            else:
                raws.append(raw)
        # pybench.py's meta record stands in for shmdev_bench's in a file
        # of its results alone.
        if not self.meta and self.py_meta:
            self.meta = self.py_meta
        page = number(self.meta.get("page_size")) or DEFAULT_PAGE
        self.records = [Record(raw, page) for raw in raws]
        self.mark_groups()
        if kver is None:
            kver = kernel_of(path, self.meta)
        self.kver = kver

    def mark_groups(self):
        """Number the groups the program ran together (a run of records of
        one benchmark in which no variant and peer repeat), and give error
        records, which have no size, the size of their group's variant."""
        group = -1
        seen = set()
        bench = None
        for r in self.records:
            if r.bench != bench or (r.variant, r.peer) in seen:
                group += 1
                seen = set()
                bench = r.bench
            seen.add((r.variant, r.peer))
            r.group = group
        for r in self.records:
            if r.size is None:
                r.size = next((o.size for o in self.records if o.group == r.group and
                               o.variant == r.variant and o.size is not None), None)

    def find(self, bench, peer, pred=lambda r: True, errors=False):
        """The first record of BENCH and PEER (a name, or a predicate on the
        peer name) whose variant PRED accepts; with errors, an error record
        when there is nothing better."""
        match_peer = peer if callable(peer) else (lambda p: p == peer)
        fallback = None
        for r in self.records:
            if not r.bench.startswith(bench) or not match_peer(r.peer) or not pred(r):
                continue
            if r.ok:
                return r
            if fallback is None and r.error is not None:
                fallback = r
        return fallback if errors else None

    def all(self, bench, pred=lambda r: True):
        return [r for r in self.records if r.bench.startswith(bench) and pred(r)]


def kernel_of(path, meta):
    if os.path.basename(path) == "results.jsonl":
        return os.path.basename(os.path.dirname(os.path.abspath(path)))
    if meta.get("kernel"):
        return str(meta["kernel"])
    name = os.path.basename(path)
    return name[:-6] if name.endswith(".jsonl") else name


# ---------------------------------------------------------------------------
# The comparison table


def fmt_ns(ns):
    if ns is None:
        return "—"
    for unit, div in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= div:
            return "%.3g %s" % (ns / div, unit)
    return "%.3g ns" % ns


def fmt_num(v, digits=3):
    if v is None:
        return "—"
    if v == 0:
        return "0"
    if abs(v) >= 1000:
        return "%.0f" % v
    return "%.*g" % (digits, v)


def fmt_median(r):
    """ "12.3 ms (188 ns/page)" for a record, its error, or a dash."""
    if r is None:
        return "—"
    if r.error is not None:
        return "error: " + md_escape(r.error)
    if r.median is None:
        return fmt_ns(r.ns_per_op) + "/op"
    text = fmt_ns(r.median)
    if r.ns_per_op is not None and r.ops and r.ops != 1:
        text += " (%s/%s)" % (fmt_ns(r.ns_per_op), r.op or "op")
    return text


def md_escape(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def time_ratio(a, b):
    """Time of A over time of B: per op when both count the same kind of
    op, else per byte when both have a size, else median over median."""
    if not (a and b and a.ok and b.ok):
        return None
    if a.ns_per_op and b.ns_per_op and a.op == b.op and (
            a.size == b.size or not (a.size and b.size)):
        return a.ns_per_op / b.ns_per_op
    if a.median and b.median and a.size and b.size:
        return (a.median / a.size) / (b.median / b.size)
    if a.median and b.median:
        return a.median / b.median
    if a.ns_per_op and b.ns_per_op:
        return a.ns_per_op / b.ns_per_op
    return None


def comparisons(res, python=False):
    """Rows of the table: (shmdev-side record or None, peer record or None)
    pairs in the order the benchmarks ran, of shmdev_bench's records, or of
    pybench.py's with PYTHON. Within a group of the program
    (mark_groups) and a variant, every shmdev-side record is paired with
    every other peer. A shmdev-side record without one there (huge,
    premap) is paired with the peers of the variant of its group that has
    the most words in common with its own (attach-write-premap with
    attach-write), else with the peers of groups of the same benchmark
    that have no shmdev-side record (variants named per peer)."""
    groups = {}
    order = []
    for r in res.records:
        if r.python != python:
            continue
        key = (r.bench, r.variant, r.group)
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(r)

    def peers_of(key):
        return [r for r in groups[key] if not r.shmdev_side]

    def sibling_peers(key):
        best, score = [], -1
        for other in order:
            if other[0] != key[0] or other[2] != key[2] or other == key:
                continue
            if not peers_of(other):
                continue
            common = len(tokens(key[1]) & tokens(other[1]))
            if common > score:
                best, score = peers_of(other), common
        return best

    orphans = {}
    for key in order:
        if not any(r.shmdev_side for r in groups[key]):
            orphans.setdefault(key[0], []).extend(groups[key])
    used = set()
    rows = []
    for key in order:
        shm = [r for r in groups[key] if r.shmdev_side]
        if not shm:
            continue
        peers = peers_of(key) or sibling_peers(key) or orphans.get(key[0], [])
        used.update(id(p) for p in peers)
        for s in shm:
            if not peers:
                rows.append((s, None))
            for p in peers:
                rows.append((s, p))
    for key in order:
        if any(g.shmdev_side for g in groups[key]):
            continue
        for r in groups[key]:
            if id(r) not in used:
                rows.append((None, r))
    return rows


def row_key(s, p):
    """What identifies a ratio across runs."""
    first = s or p
    return (first.bench, first.variant, first.size, s.peer if s else "-",
            p.peer if p else "-", p.variant if (s and p and p.variant != s.variant) else "")


def variant_label(res, s, p):
    """The variant of a row: with the size when the program ran it in
    several groups (sweep: one per size), and the peer's variant when it
    differs."""
    first = s or p
    variant = first.variant or "—"
    groups = {r.group for r in res.records
              if r.bench == first.bench and r.variant == first.variant}
    if len(groups) > 1 and first.size:
        variant += ", " + human_size(int(first.size))
    if s and p and p.variant != s.variant:
        variant += " (peer: %s)" % (p.variant or "—")
    return variant


def table(res):
    out = ["| bench | variant | shmdev | shmdev median | peer | peer median "
           "| shmdev/peer (time) | faults/op shmdev vs peer | syscalls/op shmdev vs peer |",
           "|---|---|---|---|---|---|---|---|---|"]
    for s, p in comparisons(res):
        first = s or p
        ratio = time_ratio(s, p)
        out.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            md_escape(first.bench), md_escape(variant_label(res, s, p)),
            md_escape(s.peer) if s else "—", fmt_median(s),
            md_escape(p.peer) if p else "—", fmt_median(p),
            "%.2f" % ratio if ratio is not None else "—",
            pair(s, p, "faults"), pair(s, p, "syscalls")))
    return out


def pair(s, p, field):
    def one(r):
        if r is None or r.error is not None:
            return "—"
        return fmt_num(getattr(r, field))
    if p is None:
        return one(s)
    return "%s vs %s" % (one(s), one(p))


# ---------------------------------------------------------------------------
# Targets


class Tally:
    def __init__(self):
        self.met = 0
        self.gaps = 0
        self.regressions = 0


def target_line(tally, what, value, op, limit, detail="", limit_text=None):
    """One target: VALUE compared with LIMIT (op "<=" or ">="; LIMIT_TEXT
    names it if it is a measurement too); None is missing (a gap, with
    DETAIL saying what is absent)."""
    limit_text = limit_text or fmt_limit(limit)
    if value is None:
        tally.gaps += 1
        return "- %s %s%s (target %s %s) GAP" % (
            what, MISSING, ": " + detail if detail else "", op, limit_text)
    met = value <= limit * (1 + 1e-9) if op == "<=" else value >= limit * (1 - 1e-9)
    if met:
        tally.met += 1
    else:
        tally.gaps += 1
    return "- %s %s (target %s %s)%s %s" % (
        what, fmt_value(value), op, limit_text,
        " — " + detail if detail else "", "MET" if met else "GAP")


def fmt_value(v):
    if v == 0:
        return "0"
    if abs(v) < 0.01:
        return "%.2g" % v
    return "%.2f" % v if abs(v) < 100 else "%.0f" % v


def fmt_limit(v):
    for num, den in ((1, 16), (1, 256)):
        if abs(v - num / den) < 1e-12:
            return "%d/%d" % (num, den)
    return "%g" % v


def absent(*pairs):
    """Why a target cannot be computed: the first (name, record) pair whose
    record is missing or an error."""
    for name, r in pairs:
        if r is None:
            return "no %s record" % name
        if r.error is not None:
            return "%s: error: %s" % (name, r.error)
        if not r.ok:
            return "%s has no timing" % name
    return ""


def div(a, b):
    if a is None or b is None:
        return None
    if b == 0:
        return 0.0 if a == 0 else math.inf
    return a / b


def is_huge(r):
    return "huge" in r.tokens or "thp" in r.tokens or r.peer.endswith("huge")


def plain(*words):
    """A variant with all of WORDS and neither huge pages nor premap."""
    def pred(r):
        return (all(w in r.tokens for w in words) and not is_huge(r)
                and "premap" not in r.tokens and "populate" not in r.tokens)
    return pred


def populate_4k(r):
    return not is_huge(r) and "premap" not in r.tokens


def peer_exact(name):
    return lambda p: p == name


def shmdev_plain(p):
    return p == "shmdev"


def targets(res, tally):
    out = []
    t = out.append

    # populate 4k
    s = res.find("populate", shmdev_plain, populate_4k, errors=True)
    m = res.find("populate", "memfd", populate_4k, errors=True)
    why = absent(("populate 4k shmdev", s), ("populate 4k memfd", m))
    t(target_line(tally, "populate 4k: time ratio vs memfd",
                  None if why else div(s.time_per_page(), m.time_per_page()),
                  "<=", 0.9, why))
    sf = s.faults_per_page() if s and not why else None
    mf = m.faults_per_page() if m and not why else None
    t(target_line(tally, "populate 4k: faults/page shmdev", sf, "<=",
                  mf if mf is not None else 0,
                  why or ("" if sf is not None and mf is not None else "no minflt_per_op"),
                  "memfd's %s" % fmt_num(mf)))

    # attach-read
    s = res.find("attach", shmdev_plain, plain("read"), errors=True)
    m = res.find("attach", "memfd", plain("read"), errors=True)
    why = absent(("attach-read shmdev", s))
    t(target_line(tally, "attach-read: shmdev faults/page",
                  None if why else s.faults_per_page(), "<=", 1 / 16,
                  why or ("" if s.faults is not None else "no minflt_per_op")))
    why = absent(("attach-read shmdev", s), ("attach-read memfd", m))
    t(target_line(tally, "attach-read: faults/page vs memfd's",
                  None if why else div(s.faults_per_page(), m.faults_per_page()),
                  "<=", 1 / 256,
                  why or ("" if s.faults is not None and m.faults is not None
                          else "no minflt_per_op")))
    t(target_line(tally, "attach-read: time ratio vs memfd",
                  None if why else div(s.time_per_page(), m.time_per_page()),
                  "<=", 1.0, why))

    # attach-write with premap against memfd's plain attach-write
    s = res.find("attach", shmdev_plain,
                 lambda r: "write" in r.tokens and "premap" in r.tokens and not is_huge(r),
                 errors=True)
    m = res.find("attach", "memfd", plain("write"), errors=True)
    why = absent(("attach-write-premap shmdev", s), ("attach-write memfd", m))
    t(target_line(tally, "attach-write premap: shmdev time / memfd attach-write",
                  None if why else div(s.time_per_page(), m.time_per_page()),
                  "<=", 0.5, why))

    # huge pages: faults against memfd's 4k ones, populate time
    m4 = res.find("populate", "memfd", populate_4k, errors=True)
    sh = res.find("populate", lambda p: p.startswith("shmdev"), is_huge, errors=True)
    why = absent(("populate huge shmdev", sh), ("populate 4k memfd", m4))
    t(target_line(tally, "huge populate: faults/page vs memfd 4k's",
                  None if why else div(sh.faults_per_page(), m4.faults_per_page()),
                  "<=", 1 / 256,
                  why or ("" if sh.faults is not None and m4.faults is not None
                          else "no minflt_per_op")))
    t(target_line(tally, "huge populate: time vs memfd 4k's",
                  None if why else div(sh.time_per_page(), m4.time_per_page()),
                  "<=", 0.5, why))
    huge_attach = [r for r in res.all("attach", is_huge) if r.shmdev_side]
    kinds = sorted({k for r in huge_attach for k in ("read", "write") if k in r.tokens}) \
        or ["read", "write"]
    for kind in kinds:
        sh = next((r for r in huge_attach if kind in r.tokens and r.ok), None) or \
            next((r for r in huge_attach if kind in r.tokens), None)
        m = res.find("attach", "memfd", plain(kind), errors=True)
        why = absent(("huge attach-%s shmdev" % kind, sh), ("attach-%s memfd" % kind, m))
        t(target_line(tally, "huge attach-%s: faults/page vs memfd 4k's" % kind,
                      None if why else div(sh.faults_per_page(), m.faults_per_page()),
                      "<=", 1 / 256,
                      why or ("" if sh.faults is not None and m.faults is not None
                              else "no minflt_per_op")))

    # reading back a swapped-out segment
    s = res.find("swapread", "shmdev", errors=True)
    m = res.find("swapread", "memfd", errors=True)
    why = absent(("swapread shmdev", s), ("swapread memfd", m))
    t(target_line(tally, "swapread: time ratio vs memfd",
                  None if why else time_ratio(s, m), "<=", 1.1, why))

    # scale: many processes reading one large segment
    m = res.find("scale", "memfd", plain("read"), errors=True)
    s = res.find("scale", shmdev_plain, plain("read"), errors=True)
    why = absent(("scale shmdev", s), ("scale memfd", m))
    t(target_line(tally, "scale: attach time vs memfd",
                  None if why else time_ratio(s, m), "<=", 1.0, why))
    sh = res.find("scale", shmdev_plain, is_huge, errors=True)
    why = absent(("scale huge shmdev", sh), ("scale memfd", m))
    value = None
    if not why:
        pt_h = number(sh.extra.get("pagetables_kb"))
        pt_m = number(m.extra.get("pagetables_kb"))
        if pt_h is None or pt_m is None:
            why = "no pagetables_kb"
        else:
            value = div(pt_h, pt_m)
            why = "%s KiB against %s KiB" % (fmt_num(pt_h), fmt_num(pt_m))
    t(target_line(tally, "scale huge: page tables vs memfd's", value, "<=",
                  1 / 256, why))

    # lifecycle
    shm = [r for r in res.all("lifecycle") if r.shmdev_side]
    if not shm:
        t(target_line(tally, "lifecycle: time ratio vs memfd", None, "<=", 1.0,
                      "no shmdev record"))
    for s in shm:
        # Named segments against the named peer (shm_open + shm_unlink),
        # anonymous ones against memfd; "-newfd" variants against the same.
        named = "named" in s.tokens
        peer = "shm-open" if named else "memfd"
        kind = "named" if named else "anon"
        m = res.find("lifecycle", peer, lambda r, k=kind: r.variant == k) or \
            res.find("lifecycle", peer, errors=True)
        if m is None and named:
            peer = "memfd"
            m = res.find("lifecycle", "memfd", errors=True)
        name = " ".join(x for x in (s.variant, s.peer) if x)
        vs = peer
        if m is not None and m.variant != s.variant and m.variant:
            vs += " " + m.variant
        why = absent((name, s), ("lifecycle memfd", m))
        t(target_line(tally, "lifecycle %s: time ratio vs %s" % (name, vs),
                      None if why else time_ratio(s, m), "<=", 1.0, why))

    # namescale
    names = [(parse_count(r.variant), r) for r in res.all("namescale")
             if r.shmdev_side and parse_count(r.variant) is not None]
    one = next((r for n, r in names if n == 1), None)
    ok = [(n, r) for n, r in names if r.ok and n > 1]
    big = next((r for n, r in ok if n == 100000), None) or \
        (max(ok, key=lambda x: x[0])[1] if ok else None)
    if big is None:
        big = next((r for n, r in names if n == 100000), None)
    nbig = parse_count(big.variant) if big else 100000
    why = absent(("namescale n=1", one), ("namescale n=%d" % nbig, big))
    t(target_line(tally, "namescale: attach with %d names / with 1" % nbig,
                  None if why else time_ratio(big, one), "<=", 1.5, why))

    # ring
    rings = [r for r in res.all("ring") if r.peer == "shmdev"]
    if not rings:
        t(target_line(tally, "ring: shmdev vs memfd", None, "<=", 1.10, "no shmdev record"))
    for s in rings:
        v = s.variant
        m = res.find("ring", "memfd", lambda r, v=v: r.variant == v, errors=True)
        why = absent(("ring %s shmdev" % v, s), ("ring %s memfd" % v, m))
        t(target_line(tally, "ring %s: time ratio vs same ring on memfd" % v,
                      None if why else time_ratio(s, m), "<=", 1.10, why))
        if "stream" in s.tokens:
            need, what = 3.0, "throughput vs pipe"
        elif "spin" in s.tokens:
            need, what = 10.0, "speed-up vs pipe"
        elif "block" in s.tokens or "blocking" in s.tokens:
            need, what = 2.0, "speed-up vs pipe"
        else:
            continue
        if "stream" in s.tokens and "zc" not in s.tokens and any(
                r.peer == "shmdev" and "zc" in r.tokens for r in rings):
            # The throughput target is the zero-copy stream's.
            continue
        p = ring_pipe(res, s)
        why = absent(("ring %s shmdev" % v, s), ("ring %s pipe" % v, p))
        value = None
        if not why:
            value = speedup(s, p)
        detail = ""
        if not why and p.variant != v:
            detail = "pipe variant %s" % p.variant
            if "spin" in s.tokens:
                polled = res.find("ring", "pipe", lambda r: r.variant == v)
                if polled and polled.ok:
                    detail += "; vs a polled pipe (%s): %s" % (
                        v, fmt_num(speedup(s, polled)))
        t(target_line(tally, "ring %s: %s" % (v, what), value, ">=", need,
                      why or detail))

    # doorbells: both sides of a ring waiting in epoll_wait(), on two CPUs
    # (where a short spin finds most answers) and on one (where every wait
    # sleeps)
    for v in ("pingpong-64-block", "pingpong-64-1cpu"):
        same = lambda r, v=v: r.variant == v
        e = res.find("ring", "shmdev-epoll", same, errors=True)
        for peer, what, limit in (
                ("shmdev", "futex-blocking ring", 1.5),
                ("eventfd-epoll", "eventfd + memfd in epoll", 1.0),
                ("eventfd", "eventfd + memfd, blocking read", 1.0)):
            p = res.find("ring", peer, same, errors=True)
            why = absent(("ring %s shmdev-epoll" % v, e),
                         ("ring %s %s" % (v, peer), p))
            t(target_line(tally, "ring %s: epoll on the doorbell vs %s" % (v, what),
                          None if why else time_ratio(e, p), "<=", limit, why))
    b = res.find("ring", "shmdev-bell", errors=True)
    v = b.variant if b else "stream-64k"
    p = res.find("ring", "shmdev", lambda r, v=v: r.variant == v, errors=True)
    why = absent(("ring %s shmdev-bell" % v, b), ("ring %s shmdev" % v, p))
    t(target_line(tally, "ring %s: with a doorbell nobody waits on vs without" % v,
                  None if why else time_ratio(b, p), "<=", 1.05, why))
    return out


# ---------------------------------------------------------------------------
# Python (pybench.py)


def py_records(res):
    return [r for r in res.records if r.python]


def py_rates(r):
    """(messages per second, MB per second) of a record: the ring's from
    "extra", an array phase's MB/s from its size and median (not the
    attach's, which reads no byte)."""
    if r is None or not r.ok:
        return None, None
    msgs = number(r.extra.get("msgs_per_s"))
    mb = number(r.extra.get("mb_per_s"))
    if mb is None and r.bench.startswith("py-array") and r.variant != "attach-map" \
            and r.size and r.median:
        mb = r.size / r.median * 1e3
    return msgs, mb


def py_pair(s, p, index):
    def one(r):
        v = py_rates(r)[index]
        return "—" if v is None else fmt_num(v)
    if s is None or p is None:
        return one(s or p)
    return "%s vs %s" % (one(s), one(p))


def py_meta_line(res):
    m = res.py_meta
    if not m:
        return "no pybench meta record"
    if m.get("error"):
        return "pybench failed: %s" % md_escape(m["error"])
    parts = []
    for key, label in (("python", "Python"), ("numpy", "numpy"),
                       ("libshmdev", "libshmdev"), ("mp_context", "context"),
                       ("ring_memory", "ring in"), ("rounds", "rounds"),
                       ("quick", "quick")):
        if key in m:
            value = m[key]
            parts.append("%s %s" % (label, json.dumps(value) if isinstance(value, bool)
                                    else value))
    return ", ".join(parts)


def python_section(res):
    """The Python section of a kernel: pybench.py's rows, shmdev.Ring and
    shmdev.SharedMemory against their standard library peers; nothing if
    pybench.py did not run."""
    recs = py_records(res)
    if not recs and not res.py_meta:
        return []
    out = ["### Python", "",
           "pybench.py: %s." % py_meta_line(res), ""]
    for r in recs:
        if r.bench == PYBENCH and r.error is not None:
            out += ["**pybench.py failed: %s**" % md_escape(r.error), ""]
    rows = comparisons(res, python=True)
    if not rows:
        return out + ["No measurements.", ""]
    out += ["| bench | variant | shmdev | shmdev median | peer | peer median "
            "| shmdev/peer (time) | msg/s shmdev vs peer | MB/s shmdev vs peer "
            "| faults/op shmdev vs peer |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for s, p in rows:
        first = s or p
        ratio = time_ratio(s, p)
        out.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            md_escape(first.bench), md_escape(variant_label(res, s, p)),
            md_escape(s.peer) if s else "—", fmt_median(s),
            md_escape(p.peer) if p else "—", fmt_median(p),
            "%.2f" % ratio if ratio is not None else "—",
            py_pair(s, p, 0), py_pair(s, p, 1), pair(s, p, "faults")))
    out.append("")
    return out


def msg_speedup(s, p):
    """How many times the messages per second of P S moves."""
    sm, pm = py_rates(s)[0], py_rates(p)[0]
    return sm / pm if sm and pm else div(1.0, time_ratio(s, p))


def python_targets(res, tally):
    """The two targets of pybench.py: not counted at all where it did not
    run (no record, no meta record of it)."""
    out = []
    t = out.append
    recs = py_records(res)
    if not recs and not res.py_meta:
        return ["- python: no pybench.py results (not run here)"]
    fatal = next((r for r in recs if r.bench == PYBENCH and r.error is not None), None)

    # Ring against multiprocessing.Queue, 64 B messages
    same = lambda r: r.variant == "stream-64"
    s = res.find("py-ring", "shmdev-ring", same, errors=True)
    q = res.find("py-ring", "mp-queue", same, errors=True)
    why = absent(("py-ring stream-64 shmdev-ring", s), ("py-ring stream-64 mp-queue", q))
    if why and fatal:
        why += "; pybench.py: %s" % fatal.error
    detail = why
    if not why:
        others = []
        for peer in ("mp-pipe", "socketpair"):
            p = res.find("py-ring", peer, same)
            if p is not None:
                others.append("vs %s %s" % (peer, fmt_value(msg_speedup(s, p))))
        detail = "; ".join(["%s vs %s msg/s" % (fmt_num(py_rates(s)[0]), fmt_num(py_rates(q)[0])),
                            "ring in %s" % (s.extra.get("memory") or "?")] + others)
    t(target_line(tally, "python ring 64 B: shmdev.Ring msg/s vs multiprocessing.Queue",
                  None if why else msg_speedup(s, q), ">=", PY_RING_SPEEDUP, detail))

    # A shared numpy array: the whole share, create + fill, attach + map and
    # the first full read, against multiprocessing.shared_memory
    def phase(peer, variant):
        return res.find("py-array", peer, lambda r, v=variant: r.variant == v, errors=True)

    s, m = phase("shmdev", "whole"), phase("mp-shared-memory", "whole")
    why = absent(("py-array whole shmdev", s), ("py-array whole mp-shared-memory", m))
    if why and fatal:
        why += "; pybench.py: %s" % fatal.error
    detail = why
    if not why:
        parts = []
        for variant in ("create-fill", "attach-map", "first-read"):
            ratio = time_ratio(phase("shmdev", variant), phase("mp-shared-memory", variant))
            parts.append("%s %s" % (variant, "—" if ratio is None else fmt_value(ratio)))

        def faults(peer, *variants):
            counts = [number(r.extra.get("minflt")) if r and r.ok else None
                      for r in (phase(peer, v) for v in variants)]
            return None if None in counts else sum(counts)
        for side, variants in (("creator", ("create-fill",)),
                               ("reader", ("attach-map", "first-read"))):
            parts.append("faults %s %s vs %s" % (
                side, fmt_num(faults("shmdev", *variants)),
                fmt_num(faults("mp-shared-memory", *variants))))
        detail = "; ".join(parts)
    t(target_line(tally, "python array %s: shmdev.SharedMemory time vs "
                  "multiprocessing.shared_memory" % (
                      human_size(int(s.size)) if s and s.size else "?"),
                  None if why else time_ratio(s, m), "<=", PY_ARRAY_PARITY, detail))
    return out


def speedup(s, p):
    """How many times faster (or higher throughput) S is than P."""
    st, pt = s.throughput(), p.throughput()
    return st / pt if st and pt else div(1.0, time_ratio(s, p))


def ring_pipe(res, s):
    """The pipe's record for ring variant S. A spinning ring is compared
    with a blocking pipe of the same message size, the way pipes are used
    (a polled pipe spends its time in syscalls); otherwise the same variant,
    else one of the same kind (pingpong or stream) and message size."""
    if "spin" in s.tokens:
        size = parse_size(s.variant)
        p = res.find("ring", "pipe",
                     lambda r: "block" in r.tokens and parse_size(r.variant) == size)
        if p:
            return p
    p = res.find("ring", "pipe", lambda r: r.variant == s.variant)
    if p:
        return p
    kind = "stream" if "stream" in s.tokens else "pingpong"
    size = parse_size(s.variant)
    p = res.find("ring", "pipe",
                 lambda r: kind in r.tokens and parse_size(r.variant) == size)
    return p or res.find("ring", "pipe", lambda r: r.variant == s.variant, errors=True)


def all_comparisons(res):
    """The rows of both tables, shmdev_bench's and pybench.py's."""
    return comparisons(res) + comparisons(res, python=True)


def regressions(res, base, tally):
    """Every table ratio more than 10% worse than in BASE."""
    if base is None:
        return ["- regressions: no baseline"]
    if base.problem or not base.records:
        return ["- regressions: no baseline (%s)" % (base.problem or "baseline has no records")]
    old = {}
    for s, p in all_comparisons(base):
        ratio = time_ratio(s, p)
        if ratio:
            old[row_key(s, p)] = ratio
    out = []
    compared = 0
    worst = None
    for s, p in all_comparisons(res):
        ratio = time_ratio(s, p)
        before = old.get(row_key(s, p))
        if not ratio or not before:
            continue
        compared += 1
        change = ratio / before
        if worst is None or change > worst[0]:
            worst = (change, s, p)
        if change > REGRESSION_FACTOR:
            tally.regressions += 1
            out.append("  - %s %s %s vs %s: ratio %.2f, baseline %.2f (+%.0f%%) REGRESSION" % (
                s.bench, variant_label(res, s, p), s.peer, p.peer, ratio, before,
                (change - 1) * 100))
    note = ""
    bq, nq = base.meta.get("quick"), res.meta.get("quick")
    if bq is not None and nq is not None and bool(bq) != bool(nq):
        note = " (baseline was a %s run, this one a %s run)" % (
            "quick" if bq else "full", "quick" if nq else "full")
    if compared == 0:
        return ["- regressions: baseline %s has no comparable ratio%s" % (base.path, note)]
    summary = "- regressions: %d of %d ratios more than %d%% worse than baseline %s%s" % (
        len(out), compared, round((REGRESSION_FACTOR - 1) * 100), base.path, note)
    if worst and not out:
        summary += "; the largest change: %s %s %s vs %s %+.0f%%" % (
            worst[1].bench, variant_label(res, worst[1], worst[2]), worst[1].peer,
            worst[2].peer,
            (worst[0] - 1) * 100)
    return [summary] + out


# ---------------------------------------------------------------------------
# Sweep plot


def sweep_plot(res, out_dir):
    """gnuplot PNG of time per page against segment size, one line per peer.
    Returns the PNG's path, or a note why there is none."""
    series = {}
    page = int(number(res.meta.get("page_size")) or DEFAULT_PAGE)
    for r in res.all("sweep"):
        if not r.ok:
            continue
        size = r.size or parse_size(r.variant)
        if not size:
            continue
        pages = size / r.page_size
        per_page = r.median / pages if r.median is not None else r.ns_per_op
        if per_page:
            series.setdefault((r.peer, r.variant), {})[size] = per_page
    if not series:
        return None, "no sweep records"
    gnuplot = shutil.which("gnuplot")
    if not gnuplot:
        return None, "gnuplot is not installed"
    kdir = os.path.join(out_dir, res.kver)
    os.makedirs(kdir, exist_ok=True)
    dat = os.path.join(kdir, "sweep.dat")
    png = os.path.join(kdir, "sweep.png")
    keys = list(series)
    sizes = sorted({s for pts in series.values() for s in pts})
    # A line per peer, or per peer and variant where a peer has several
    # (shmdev 4k and huge).
    nvar = {}
    for peer, _ in keys:
        nvar[peer] = nvar.get(peer, 0) + 1
    titles = [peer if nvar[peer] == 1 or not variant else "%s %s" % (peer, variant)
              for peer, variant in keys]
    with open(dat, "w", encoding="utf-8") as f:
        for key, title in zip(keys, titles):
            f.write("# %s\n" % title)
            for size in sorted(series[key]):
                f.write("%d %.6g\n" % (size, series[key][size]))
            f.write("\n\n")
    tics = ", ".join('"%s" %d' % (human_size(s), s) for s in sizes)
    plots = ", ".join("'%s' index %d using 1:2 with linespoints lw 2 title '%s'" % (
        gp_quote(dat), i, gp_quote(title)) for i, title in enumerate(titles))
    script = "\n".join([
        "set terminal pngcairo size 960,600 noenhanced",
        "set output '%s'" % gp_quote(png),
        "set title '%s: sweep, median time per page by segment size'" % gp_quote(res.kver),
        "set logscale x 2",
        "set xrange [%g:%g]" % (sizes[0] / 1.4, sizes[-1] * 1.4),
        "set logscale y 10",
        "set xtics (%s)" % tics,
        "set xlabel 'segment size'",
        "set ylabel 'median time per %d-byte page (ns)'" % page,
        "set grid",
        "set key outside right top",
        "plot " + plots,
        ""])
    try:
        proc = subprocess.run([gnuplot], input=script, text=True,
                              capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError) as e:
        return None, "gnuplot failed: %s" % e
    if proc.returncode != 0 or not os.path.exists(png):
        return None, "gnuplot failed: %s" % proc.stderr.strip().replace("\n", " ")
    return png, None


def gp_quote(text):
    return str(text).replace("\\", "\\\\").replace("'", "''")


# ---------------------------------------------------------------------------


def find_baseline(res, paths, nres):
    """The baseline Results for RES, or None."""
    files = []
    for path in paths:
        if os.path.isdir(path):
            cand = os.path.join(path, res.kver + ".jsonl")
            if os.path.exists(cand):
                return Results(cand, res.kver)
        elif os.path.exists(path):
            files.append(path)
    for path in files:
        base = Results(path)
        if base.meta.get("kernel") == res.kver or base.kver == res.kver:
            return base
    if nres == 1 and len(files) == 1:
        return Results(files[0], res.kver)
    return None


def meta_line(res):
    m = res.meta
    if not m:
        return "no meta record"
    parts = []
    for key in ("kernel", "ncpu", "page_size", "huge_page_size", "shmdev_api",
                "features", "rounds", "quick"):
        if key in m:
            parts.append("%s %s" % (key, json.dumps(m[key]) if isinstance(m[key], (bool, dict, list))
                                    else m[key]))
    return ", ".join(parts)


def main():
    ap = argparse.ArgumentParser(
        description="Markdown report of shmdev_bench results (see the module docstring).")
    ap.add_argument("--baseline", action="append", default=None, metavar="PATH")
    ap.add_argument("--out-dir", default=os.path.join(ROOT, "build", "bench"))
    ap.add_argument("--no-plot", action="store_true")
    ap.add_argument("results", nargs="*")
    args = ap.parse_args()

    paths = args.results
    if not paths:
        bench_dir = os.path.join(ROOT, "build", "bench")
        if os.path.isdir(bench_dir):
            paths = sorted(os.path.join(bench_dir, d, "results.jsonl")
                           for d in os.listdir(bench_dir)
                           if os.path.exists(os.path.join(bench_dir, d, "results.jsonl")))
    if not paths:
        print("bench-report: no results files", file=sys.stderr)
        return 2
    baselines = args.baseline if args.baseline is not None else \
        [os.path.join(ROOT, "bench", "results")]

    all_res = [Results(p) for p in paths]
    if all(r.problem for r in all_res):
        for r in all_res:
            print("bench-report: %s" % r.problem, file=sys.stderr)
        return 2

    tally = Tally()
    md = ["# shmdev benchmarks", ""]
    target_md = ["## TARGETS", ""]
    for res in all_res:
        md += ["## %s" % res.kver, ""]
        md.append("Results: `%s`; %s." % (res.path, meta_line(res)))
        if res.problem:
            md.append("")
            md.append("**%s**" % res.problem)
        if res.bad_lines:
            md.append("")
            md.append("%d line(s) that are not JSON records were left out." % res.bad_lines)
        md.append("")
        if res.records:
            md += table(res)
        else:
            md.append("No measurements.")
        md.append("")
        if not args.no_plot:
            png, why = sweep_plot(res, args.out_dir)
            md.append("Sweep plot: %s" % (png if png else "none (%s)" % why))
            md.append("")
        md += python_section(res)

        base = find_baseline(res, baselines, len(all_res))
        target_md += ["### %s" % res.kver, ""]
        target_md += targets(res, tally)
        target_md += python_targets(res, tally)
        target_md += regressions(res, base, tally)
        target_md.append("")

    md += target_md
    md.append("targets: %d met, %d gaps, %d regressions" % (
        tally.met, tally.gaps, tally.regressions))
    text = "\n".join(md) + "\n"
    sys.stdout.write(text)
    try:
        os.makedirs(args.out_dir, exist_ok=True)
        with open(os.path.join(args.out_dir, "report.md"), "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as e:
        print("bench-report: cannot write report.md: %s" % e, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
