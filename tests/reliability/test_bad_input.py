"""Rule 3 on hostile input: every bad line is quarantined with its origin and reason, every
good line is loaded. Dump files through `snoopipe backfill` (the real CLI): a truncated
zstd file, lines that are not UTF-8, broken JSON, JSON that is not an object, every type
variant Reddit data has had, 100 KB bodies, empty files, a file of nothing but garbage;
on the embedded warehouse and on PostgreSQL."""

from __future__ import annotations

import random
from pathlib import Path

import duckdb
import orjson
import pytest
import zstandard

from tests.dumps.conftest import comment, post, write_dump
from tests.reliability.conftest import BACKENDS, Site

pytestmark = pytest.mark.slow

MARCH = 1_709_251_200  # 2024-03-01T00:00:00Z
HUGE = ("Ünïcödé 😀 " * 10_000)[:100_000]  # a 100 KB body (characters, 4-byte ones too)


def _noise(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789 ") for _ in range(n))


class Corpus:
    """Dump files with known good and bad lines: (file, line) -> id / reason prefix."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.good_posts: set[str] = set()
        self.good_comments: set[str] = set()
        self.bad: dict[tuple[str, int], str] = {}  # (file, line) -> reason prefix
        self.blank = 0
        self.files: list[Path] = []
        # what -> expectations: ("good", kind, id) or ("bad", file, line, reason prefix)
        self.cases: dict[str, list[tuple]] = {}

    def _case(self, what: str, *expectation: object) -> None:
        self.cases.setdefault(what, []).append(expectation)

    def build(self) -> list[Path]:
        rng = random.Random(20240301)
        # -- comments: zstd (2 GiB window), cut short by an interrupted download ----------
        rc: list[tuple[bytes | dict, str | None, str]] = [
            # (line, bad reason prefix or None, what it tests)
            (comment("c1", "python", MARCH + 10), None, "type variant: created_utc integer"),
            (comment("c2", "python", f"{MARCH + 20}.5", edited=True, score=None), None,
             "type variant: created_utc numeric string, edited true, score null"),
            (comment("c3", "python", float(MARCH + 30), edited=MARCH + 99, score="12",
                     author="[deleted]", body="[deleted]"), None,
             "type variant: created_utc float, edited epoch, score string, deleted"),
            (comment("c4", "python", MARCH + 40, body=HUGE), None, "100 KB body"),
            (comment("c5", "rust", MARCH + 50, author="", body="[removed]",
                     controversiality="1", stickied="true", depth=None), None,
             "type variant: removed, empty author, int and bool as strings"),
            (comment("c6", "python", MARCH + 60, body={"nested": [1, 2]}, edited=0,
                     is_submitter=1, score=7.0), None,
             "type variant: object as text, edited 0, bool as 1, integer as 7.0"),
            (comment("t1_c7", "python", MARCH + 70, link_id="t3_p1", body="a\u0000b"), None,
             "type variant: t1_ prefixed id, NUL character"),
            (orjson.dumps(comment("u1")).replace(b"comment u1", b"comment \xff\xfe"),
             "invalid UTF-8", "invalid UTF-8"),
            (b'{"id": "x1", "subreddit": "python", ', "invalid JSON", "broken JSON"),
            (b'{"id": "x2", "body": "unterminated}', "invalid JSON", "broken JSON"),
            (b"[1, 2, 3]", "not a JSON object", "JSON array"),
            (b'"just a string"', "not a JSON object", "JSON string"),
            (b"null", "not a JSON object", "JSON null"),
            (b"\xc3\x28 not utf-8 at all", "invalid UTF-8", "invalid UTF-8"),
            (b"", None, "blank line"),
            (comment("b1", "python", "yesterday"), "created_utc", "unusable value"),
            (comment("b2", "python", MARCH, id=...), "missing id", "missing key"),
            (comment("b3", "python", MARCH, score="lots"), "score", "unusable value"),
            (comment("b4", "python", MARCH, edited="sometimes"), "edited", "unusable value"),
            (comment("b5", "python", MARCH, link_id=...), "missing link_id", "missing key"),
            (comment("b6", "python", 1e12), "created_utc", "unusable value"),
            ({}, "missing", "empty object"),
            (comment("DROP TABLE comments", "python", MARCH), "id", "hostile id"),
        ]
        # Filler to cut into: the download stops two thirds into the file.
        rc += [(comment(f"f{i:04d}", "python", MARCH + 1000 + i, body=_noise(rng, 400)), None,
                "filler") for i in range(600)]
        rc_path = self.folder / "RC_2024-03.zst"
        full = write_dump(self.folder / "full.zst", [line for line, _b, _w in rc]).read_bytes()
        rc_path.write_bytes(full[: len(full) * 2 // 3])
        (self.folder / "full.zst").unlink()
        with zstandard.ZstdDecompressor(max_window_size=2**31).stream_reader(
                rc_path.open("rb")) as reader:
            prefix = reader.read()
        complete = prefix.count(b"\n")
        for number, (line, bad, what) in enumerate(rc[:complete], start=1):
            self._classify(rc_path.name, number, line, bad, what, "comments")
        self.bad[(rc_path.name, complete + 1)] = "truncated"
        self._case("zstd file cut short (its partial last line)", "bad", rc_path.name,
                   complete + 1, "truncated")

        # -- posts: plain NDJSON -------------------------------------------------------------
        rs = [
            (post("p1", "python", MARCH + 5), None, "type variant: integers"),
            (post("p2", "python", str(MARCH + 6), edited=float(MARCH + 600),
                  upvote_ratio="0.5", num_comments="3", over_18="false"), None,
             "type variant: numbers and booleans as strings, edited epoch float"),
            (post("p3", "python", MARCH + 7, selftext="[removed]", author="[deleted]",
                  removed_by_category="moderator"), None, "type variant: removed"),
            (post("p4", "rust", MARCH + 8, title="[deleted by user]", selftext="[deleted]",
                  removed_by_category="deleted", score=None), None,
             "type variant: deleted by its author, score null"),
            (post("t3_p5", "python", MARCH + 9), None, "type variant: t3_ prefixed id"),
            (post("p6", "python", MARCH + 11, selftext=HUGE), None, "100 KB body"),
            (post("b7", "python", MARCH + 12, upvote_ratio="high"), "upvote_ratio",
             "unusable value"),
            (post("b8", "python", MARCH + 13, name="t1_b8"), "name", "wrong kind"),
            (post("b9", "../../etc", MARCH + 14), "subreddit", "path traversal subreddit"),
            (post("b10", "python'; DROP TABLE posts; --", MARCH + 15), "subreddit",
             "SQL injection subreddit"),
            (post("b11", "python", MARCH + 16, score=1.5), "score", "unusable value"),
            (b"null", "not a JSON object", "JSON null"),
            (b"{ broken", "invalid JSON", "broken JSON"),
        ]
        rs_path = self.folder / "RS_2024-03.ndjson"
        write_dump(rs_path, [line for line, _b, _w in rs], compress=None)
        for number, (line, bad, what) in enumerate(rs, start=1):
            self._classify(rs_path.name, number, line, bad, what, "posts")

        # -- empty files and a file of nothing but garbage -----------------------------------
        empty_plain = self.folder / "RS_2024-04.ndjson"
        empty_plain.write_bytes(b"")
        empty_zst = write_dump(self.folder / "RC_2024-04.zst", [])
        self._case("empty files (plain and zstd)", "empty", empty_plain.name)
        self._case("empty files (plain and zstd)", "empty", empty_zst.name)
        garbage = [b"\x00\x01\x02", b"<html>502 Bad Gateway</html>", b"{{{{", b"\xff" * 50]
        garbage_path = self.folder / "RC_2024-05.ndjson"
        write_dump(garbage_path, garbage, compress=None)
        reasons = ["invalid JSON", "invalid JSON", "invalid JSON", "invalid UTF-8"]
        for number, reason in enumerate(reasons, start=1):
            self.bad[(garbage_path.name, number)] = reason
            self._case("a file of nothing but garbage", "bad", garbage_path.name, number, reason)
        self.files = [rs_path, rc_path, empty_plain, empty_zst, garbage_path]
        return self.files

    def _classify(self, name: str, number: int, line, bad: str | None, what: str,
                  kind: str) -> None:
        if what == "blank line":
            self.blank += 1
            self._case(what, "blank", name, number)
            return
        if bad is not None:
            self.bad[(name, number)] = bad
            self._case(what, "bad", name, number, bad)
            return
        ident = line["id"].split("_", 1)[-1]
        (self.good_posts if kind == "posts" else self.good_comments).add(ident)
        self._case("good lines (filler)" if what == "filler" else what, "good", kind, ident)


def quarantined(site: Site) -> dict[tuple[str, int], str]:
    """(dump file, line) -> reason, from the reader's and the transform's quarantine files."""
    out: dict[tuple[str, int], str] = {}
    files = [k for k in site.lake_keys("quarantine/") if k.endswith(".parquet")]
    con = duckdb.connect()
    try:
        for key in files:
            path = str(site.lake / key)
            if key.startswith("quarantine/dumps/"):
                rows = con.execute(f"SELECT source, source_line, reason FROM read_parquet("
                                   f"'{path}')").fetchall()
                for source, number, reason in rows:
                    out[(source.removeprefix("dump:"), number)] = reason
            else:
                for line, reason in con.execute(
                        f"SELECT line, reason FROM read_parquet('{path}')").fetchall():
                    origin = orjson.loads(line)  # a raw line: it carries its dump origin
                    out[(origin["_source"].removeprefix("dump:"), origin["_source_line"])] = \
                        reason
    finally:
        con.close()
    return out


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_bad_line_quarantined_every_good_line_loaded(backend, make_site, tmp_path,
                                                            fault_log):
    corpus = Corpus(tmp_path)
    files = corpus.build()
    site = make_site(backend)
    proc = site.snoopipe("backfill", *map(str, files), "--all-subreddits", check=False)
    posts = {r[0] for r in site.warehouse_rows("SELECT id FROM posts")}
    comments = {r[0] for r in site.warehouse_rows("SELECT id FROM comments")}
    got_bad = quarantined(site)
    wrong_reason = {k: (v, got_bad[k]) for k, v in corpus.bad.items()
                    if k in got_bad and not got_bad[k].startswith(v)
                    and v not in got_bad[k]}
    missing_bad = set(corpus.bad) - set(got_bad)
    unexpected_bad = set(got_bad) - set(corpus.bad)
    lost_posts, lost_comments = corpus.good_posts - posts, corpus.good_comments - comments
    bodies = dict(site.warehouse_rows("SELECT id, length(body) FROM comments "
                                      "WHERE id IN ('c4', 'c7')"))
    selftext = site.warehouse_rows("SELECT length(selftext) FROM posts WHERE id = 'p6'")
    loaded = {"posts": posts, "comments": comments}
    filler = corpus.cases.get("good lines (filler)", [])
    for what, cases in sorted(corpus.cases.items()):
        if what == "good lines (filler)":
            continue  # only in the whole-corpus row: plain lines to cut the zstd file in
        good = [c for c in cases if c[0] == "good"]
        bad = [c for c in cases if c[0] == "bad"]
        parts = []
        if good:
            ok = sum(c[2] in loaded[c[1]] for c in good)
            parts.append(f"{ok}/{len(good)} loaded")
        if bad:
            ok = sum(got_bad.get((c[1], c[2]), "").startswith(c[3]) or
                     c[3] in got_bad.get((c[1], c[2]), "") for c in bad)
            reasons = sorted({got_bad.get((c[1], c[2]), "?").split(":")[0][:40] for c in bad})
            parts.append(f"{ok}/{len(bad)} quarantined with file and line, reason "
                         + " / ".join(f"\"{r}\"" for r in reasons))
        if cases[0][0] == "blank":
            parts.append("skipped and counted, not quarantined: "
                         f"{not any((c[1], c[2]) in got_bad for c in cases)}")
        if cases[0][0] == "empty":
            parts.append(f"read as 0 lines; the backfill finished (exit {proc.returncode}, 3: "
                         f"another input was cut short)")
        if what == "100 KB body":
            intact = bodies.get("c4") == len(HUGE) and selftext == [(len(HUGE),)]
            parts.append(f"lengths intact: {intact}")
        fault_log.record("input", what, where="backfill (embedded; postgres)",
                         injected=len(cases), outcome=f"{backend}: " + ", ".join(parts),
                         rules=(3,))
    fault_log.record(
        "input", "the whole corpus", where=f"backfill, {backend}",
        injected=sum(len(c) for c in corpus.cases.values()) - len(filler),
        outcome=(f"backfill exited {proc.returncode} (3 = finished, an input was cut short); "
                 f"{len(filler)} plain good lines besides the cases above; "
                 f"{len(posts & corpus.good_posts)}/{len(corpus.good_posts)} good posts and "
                 f"{len(comments & corpus.good_comments)}/{len(corpus.good_comments)} good "
                 f"comments loaded; {len(set(corpus.bad) & set(got_bad))}/{len(corpus.bad)} bad "
                 f"lines quarantined, {len(wrong_reason)} with a wrong reason, "
                 f"{len(unexpected_bad)} good lines quarantined"), rules=(3,))
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "truncated" in proc.stderr and "Traceback" not in proc.stdout + proc.stderr
    assert not lost_posts and not lost_comments, (lost_posts, lost_comments)
    assert posts == corpus.good_posts and comments == corpus.good_comments
    assert not missing_bad, sorted(missing_bad)
    assert not unexpected_bad, {k: got_bad[k] for k in unexpected_bad}
    assert not wrong_reason, wrong_reason
    assert bodies["c4"] == len(HUGE) and selftext == [(len(HUGE),)]
    # the type variants were typed, not just accepted
    rows = dict(site.warehouse_rows("SELECT id, score FROM comments WHERE id IN "
                                    "('c2', 'c3', 'c6')"))
    assert rows == {"c2": None, "c3": 12, "c6": 7}
    edited = dict(site.warehouse_rows("SELECT id, is_edited FROM comments WHERE id IN "
                                      "('c2', 'c3', 'c6')"))
    assert edited == {"c2": True, "c3": True, "c6": False}
    flags = site.warehouse_rows("SELECT is_deleted, is_removed, body, author FROM comments "
                                "WHERE id = 'c5'")
    assert flags == [(False, True, None, None)]
    status = site.state("SELECT status, error FROM runs")
    assert status[0][0] == "success" and "truncated" in status[0][1]
    checks = site.state("SELECT check_name FROM check_results WHERE passed = 0 AND "
                        "severity = 'blocking'")
    assert checks == []
