"""Inputs for the engine conformance tests: generated, real and bad."""

from __future__ import annotations

import orjson

from snoopipe.simulator.generated import ANCHOR_EPOCH, GeneratedCorpus
from tests.fixtures.harness import T0, comment, load_dump, post
from tests.realdata import DUMPS_DIR

RS = DUMPS_DIR / "RS_praw_cassettes.ndjson"
RC = DUMPS_DIR / "RC_praw_cassettes.ndjson"
DAY = 86400


# -- generated --------------------------------------------------------------------------


def generated_observation(corpus: GeneratedCorpus, now: float, *, posts: int = 60,
                          trees: int = 12) -> dict[str, dict[str, list[dict]]]:
    """What an extract sees at `now`: per subreddit, the newest posts and some comment trees."""
    out: dict[str, dict[str, list[dict]]] = {}
    for sub in corpus.subreddits:
        listing = corpus.listing(sub, "new", "all", now)
        things = listing.things(0, min(posts, len(listing)))
        comments: list[dict] = []
        for thing in things[:trees]:
            forest = corpus.forest(thing["id"], now)
            for cid in forest.order if forest else ():
                data = corpus.thing(f"t1_{cid}", now)
                if data is not None:
                    comments.append(data)
        out[sub] = {"posts": things, "comments": comments}
    return out


def add_generated(twin, run_id: str, corpus: GeneratedCorpus, now: float, **kw) -> int:
    """One run's raw files from the generated corpus, as the API extract writes them."""
    from datetime import UTC, datetime

    moment = datetime.fromtimestamp(now, UTC)
    dt = moment.date().isoformat()
    retrieved = moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    lines = 0
    for sub, kinds in generated_observation(corpus, now, **kw).items():
        for kind, things in kinds.items():
            if things:
                twin.add_things(run_id, kind, things, subreddit=sub, dt=dt,
                                retrieved_at=retrieved, source="api")
                lines += len(things)
    return lines


GENERATED_NOW = ANCHOR_EPOCH + 40 * DAY


# -- real ---------------------------------------------------------------------------------


def real_things() -> tuple[list[dict], list[dict]]:
    return load_dump(RS), load_dump(RC)


# -- bad input ----------------------------------------------------------------------------

# > 100 characters: a reason shows the first 100 code points of a value
EMOJI_TEXT = "👍🏽 e\u0301 " * 30


def _line(thing: dict, **lineage) -> bytes:
    return orjson.dumps({**thing, "_retrieved_at": T0, "_source": "dump:bad", **lineage})


def _raw(text: str) -> bytes:
    return text.encode()


def bad_post_lines() -> list[bytes]:
    """Posts: every type variant and broken line we know of, one per line."""
    from tests.transform.test_transform import VARIANTS

    lines = [_line(thing) for thing, _reason, _expected in VARIANTS]
    p = orjson.dumps(post("zz", title="x"))[:-1].decode()  # '{"id":"zz",...' without the }
    tail = f', "_retrieved_at": "{T0}", "_source": "dump:bad"'
    lines += [
        # structure
        b"", b"   ", b"null", b"[1, 2]", b'"text"', b"42", b'{"id": "x1", "subreddit": ',
        b"\xff\xfe" + _line(post("u1"))[2:], _line(post("u2")).replace(b"u2", b"u\xc3"),
        b"\xed\xa0\x80", _line(post("u3")) + b"\r", b"\xef\xbb\xbf" + _line(post("u4")),
        _line(post("u5")) + b" trailing", _raw("{" + p[1:] + tail + ",}"),
        _raw(p + tail + ', "id": "dup"}'),
        # numbers as JSON tokens: floats the parsers render differently
        _raw(p.replace('"score":1', '"score":1e7') + tail + "}"),
        _raw(p.replace('"score":1', '"score":12345678.0') + tail + "}"),
        _raw(p.replace('"score":1', '"score":1e21') + tail + "}"),
        _raw(p.replace('"score":1', '"score":1e400') + tail + "}"),
        _raw(p.replace('"score":1', '"score":NaN') + tail + "}"),
        _raw(p.replace('"score":1', '"score":-Infinity') + tail + "}"),
        _raw(p.replace('"score":1', '"score":12345678901234567890') + tail + "}"),
        _raw(p.replace('"score":1', '"score":-0') + tail + "}"),
        _raw(p.replace('"upvote_ratio":1.0', '"upvote_ratio":2.5e-5') + tail + "}"),
        _raw(p.replace('"upvote_ratio":1.0', '"upvote_ratio":1e300') + tail + "}"),
        _raw(p.replace('"upvote_ratio":1.0', '"upvote_ratio":1e301') + tail + "}"),
        _raw(p.replace('"title":"x"', '"title":1e7') + tail + "}"),
        _raw(p.replace('"title":"x"', '"title":{"a": [1.50, "b"], "c": null}') + tail + "}"),
        _raw(p.replace('"title":"x"', '"title":"\\ud800"') + tail + "}"),
        _raw(p.replace('"title":"x"', '"title":"tab\there"') + tail + "}"),
        _raw(p.replace('"title":"x"', '"title":"nul\\u0000 \\u00e9 \\/"') + tail + "}"),
        _raw(p.replace('"created_utc":1736500000.0', '"created_utc":1.7365e9') + tail + "}"),
        _raw(p.replace('"id":"zz"', '"ID":"zz"') + tail + "}"),
        _raw(p.replace('"id":"zz"', "'id':'zz'") + tail + "}"),
    ]
    things = [
        # ids and names: Java's `$` matches before a final newline, RE2's does not
        post("v1", id="abc\n"), post("v2", subreddit="python\n"), post("v3", id="t3_"),
        post("v4", id="ab\u00e9"), post("v5", id="t3_ABC"), post("v6", name="t3_v6\n"),
        post("v7", subreddit="py"), post("v8", subreddit="a" * 22), post("v9", id="0" * 14),
        # integers, doubles, booleans in text
        post("w1", score="12 "), post("w2", score=" 12"), post("w3", num_comments="00012"),
        post("w4", num_comments="12.000"), post("w5", num_comments="1.5e3"),
        post("w6", score="-0"), post("w7", score="9" * 18), post("w8", score="9" * 19),
        post("w9", upvote_ratio="-0.0"), post("x1", upvote_ratio="1e-3"),
        post("x2", upvote_ratio="NaN"), post("x3", upvote_ratio="Infinity"),
        post("x4", upvote_ratio=".5"), post("x5", over_18="TRUE"), post("x6", over_18=1),
        post("x7", over_18=1.0), post("x8", over_18="yes"), post("x9", spoiler="False"),
        post("y1", locked="0"), post("y2", stickied=[True]),
        # timestamps
        post("y3", created_utc="1736500000.1234567"), post("y4", created_utc=1e11 - 1),
        post("y5", created_utc=1e11), post("y6", created_utc=-62135596800),
        post("y7", created_utc=-62135596801), post("y8", created_utc=-7e10),
        post("y9", created_utc="0x10"), post("z1", created_utc="1e9"),
        post("z2", created_utc=True), post("z3", created_utc=0.0000005),
        post("z4", created_utc=-0.0000005), post("z5", created_utc=1736500000.0000005),
        post("z6", edited="TRUE"), post("z7", edited="False"), post("z8", edited=0.0),
        post("z9", edited=-5), post("e1", edited="1e9"), post("e2", edited=-7e10),
        post("e3", edited=2e11), post("e4", edited="NaN"), post("e5", edited={"at": 1}),
        # deletion markers, authors, text
        post("d1", author=""), post("d2", author="[removed]"), post("d3", author="None"),
        post("d4", removed_by_category=""), post("d5", removed_by_category="deleted",
                                                 selftext="still here"),
        post("d6", selftext="[ Removed by Reddit ]"), post("d7", title="[deleted by user]"),
        post("d8", selftext="[Deleted]"), post("d9", removed_by_category=7),
        # reasons that show long and non-ASCII values
        post("r1", score=EMOJI_TEXT), post("r2", over_18=EMOJI_TEXT, score="x" * 150),
        post("r3", subreddit="ñandú"), post("r4", edited="İ"),
    ]
    lines += [_line(t) for t in things]
    # lineage values
    lines += [
        _line(post("l1"), _retrieved_at="2026-01-10T24:00:00Z"),
        _line(post("l2"), _retrieved_at="2026-01-10 24:00:00.000+00:00"),
        _line(post("l3"), _retrieved_at="2026-01-10T24:00:00.5Z"),
        _line(post("l4"), _retrieved_at="2026-01-10T24:00:01Z"),
        _line(post("l5"), _retrieved_at="2026-02-30T00:00:00Z"),
        _line(post("l6"), _retrieved_at="2026-01-10T12:00:00.1234567Z"),
        _line(post("l7"), _retrieved_at="2026-01-10T12:00:00+01:00"),
        _line(post("l8"), _retrieved_at="2026-01-10T12:00:00Z\n"),
        _line(post("l9"), _retrieved_at=1736500000),
        _line(post("m1"), _retrieved_at="2024-02-29T23:59:59.999999Z"),
        _line(post("m2"), _retrieved_at="2026-01-10T23:59:60Z"),
        _line(post("m3"), _retrieved_at="0001-01-01T00:00:00Z"),
        _line(post("m4"), _source=None), _line(post("m5"), _source=""),
        _line(post("m6"), _source=12),
    ]
    # a long line (a real selftext can be 40,000 characters)
    lines.append(_line(post("big", selftext="é" * 200_000)))
    return lines


def bad_comment_lines() -> list[bytes]:
    things = [
        comment("k1", link_id="t3_p1"), comment("k2", "p2", id="t1_k2", link_id="p2"),
        comment("k3", link_id=...), comment("k4", link_id="t3_NOPE"),
        comment("k5", author="[deleted]", body="[deleted]"),
        comment("k6", body="[removed]", controversiality="1", depth=2),
        comment("k7", depth="deep"), comment("k8", edited=0), comment("k9", depth="2.0"),
        comment("j1", depth=2.5), comment("j2", controversiality=1e0),
        comment("j3", controversiality="1234567890"), comment("j4", depth="123456789"),
        comment("j5", link_id="t3_p1\n"), comment("j6", parent_id={"t": 1}),
        comment("j7", name="t3_j7"), comment("j8", body="[ Removed by Reddit ]"),
        comment("j9", removed_by_category="moderator", body="text"),
        comment("i1", is_submitter="true", stickied=0),
        comment("i2", created_utc="1600000000", subreddit="rust"),
        comment("i3", score=None, controversiality=None, depth=None),
    ]
    return [_line(t) for t in things] + [b"{}", b'{"id": null}', b"[]", b"\x80"]
