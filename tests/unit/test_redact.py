"""One masking rule for every URL shape and every place a secret could leak through."""

from __future__ import annotations

import logging

import pytest

from snoopipe.redact import (
    MASK,
    install_log_redaction,
    mask_url,
    redact,
    redact_data,
    remember,
    url_secrets,
)

# (URL, the secrets in it, what must stay readable)
SHAPES = [
    ("postgresql://snoop:pa/ss?wo#rd@db.example:5432/warehouse", ["pa/ss?wo#rd", "ss?wo#rd"],
     ["postgresql://snoop:", "@db.example:5432/warehouse"]),
    ("postgresql://snoop:s3cr@t@db:5432/w?sslmode=require", ["s3cr@t", "s3cr"],
     ["snoop:", "@db:5432/w?sslmode=require"]),
    ("postgresql://snoop:pw%2Fenc@db/w", ["pw%2Fenc", "pw/enc"], ["@db/w"]),
    ("postgresql://snoop@db:5432/w?sslpassword=keypass&sslmode=verify-full", ["keypass"],
     ["sslmode=verify-full", "@db:5432/w"]),
    ("snoop:pa/ss#x@db.example:5432/w", ["pa/ss#x"], ["snoop:", "@db.example:5432/w"]),
    ("https://dumpuser:dumppw@files.example/RC_2024-03.zst", ["dumppw"],
     ["dumpuser:", "files.example/RC_2024-03.zst"]),
    ("https://bucket.s3.amazonaws.com/RC_2024-03.zst?X-Amz-Algorithm=AWS4-HMAC-SHA256"
     "&X-Amz-Credential=AKIAEXAMPLE%2F20240101&X-Amz-Signature=0123abcd&X-Amz-Security-Token=tok9",
     ["AKIAEXAMPLE", "0123abcd", "tok9"], ["X-Amz-Algorithm=AWS4-HMAC-SHA256", "RC_2024-03.zst"]),
    ("https://files.example/RC.zst?token=abc123&user=me", ["abc123"], ["user=me"]),
    ("https://acct.blob.core.windows.net/c/RC.zst?sv=2020-08-04&sig=SIGVALUE", ["SIGVALUE"],
     ["sv=2020-08-04"]),
    ("https://ghp_tokenonly@github.example/x.zst", ["ghp_tokenonly"], ["@github.example/x.zst"]),
    ("redis://:r3d1s/pw@127.0.0.1:6379/0", ["r3d1s/pw"], ["@127.0.0.1:6379/0"]),
    ("s3://bucket/prefix?aws_secret_access_key=AWSSECRET&region=eu", ["AWSSECRET"],
     ["region=eu"]),
    ("https://x.example/?client_secret=CSECRET&api_key=AKEY&page=2", ["CSECRET", "AKEY"],
     ["page=2"]),
    ("host=db port=5432 user=u password=conn1nfo dbname=w", ["conn1nfo"], ["dbname=w"]),
]


@pytest.mark.parametrize(("url", "secrets", "kept"), SHAPES, ids=[s[0][:40] for s in SHAPES])
def test_every_url_shape_is_masked_alone_and_inside_text(url, secrets, kept):
    masked = mask_url(url)
    in_text = redact(f"cannot connect to {url}: connection refused")
    in_repr = redact(f"invalid URL {url!r}")
    for text in (masked, in_text, in_repr):
        assert MASK in text
        for secret in secrets:
            assert secret not in text, text
        for part in kept:
            assert part in text, text
    assert in_text.endswith(": connection refused")


@pytest.mark.parametrize("url", ["duckdb:///data/warehouse.duckdb", "file:///home/me@x/lake",
                                 "sqlite:///srv/state.db", "https://www.reddit.com/r/python",
                                 "s3://bucket/lake/prefix"])
def test_urls_without_secrets_are_left_alone(url):
    assert mask_url(url) == url
    assert redact(f"lake: {url}") == f"lake: {url}"


def test_remembered_secrets_are_masked_wherever_they_appear():
    remember("Zq9-remembered/pw")
    text = redact("FATAL: password authentication failed (tried Zq9-remembered/pw and "
                  "Zq9-remembered%2Fpw)")
    assert "Zq9-remembered" not in text and text.count(MASK) == 2
    assert redact("x", secrets=["only-here-1"]) == "x"
    assert redact("a only-here-1 b", secrets=["only-here-1"]) == f"a {MASK} b"


def test_stored_data_is_redacted_value_by_value():
    data = {"dump_files": ["https://u:dpw@h/RC.zst", "/data/RS_2024-01.zst"],
            "n": 3, "nested": {"error": "token=abc"}}
    assert redact_data(data) == {"dump_files": [f"https://u:{MASK}@h/RC.zst",
                                                "/data/RS_2024-01.zst"],
                                 "n": 3, "nested": {"error": f"token={MASK}"}}


def test_log_records_are_redacted(caplog):
    install_log_redaction()
    install_log_redaction()  # idempotent
    with caplog.at_level(logging.INFO):
        logging.getLogger("snoopipe.test").info("connecting to %s", "postgresql://u:p/w#d@h/db")
    assert "p/w#d" not in caplog.text and f"u:{MASK}@h/db" in caplog.text


def test_help_texts_keep_their_placeholders():
    text = "unsupported warehouse URL: use postgresql://user:password@host:5432/db"
    assert redact(text) == text
    assert mask_url("postgresql://user@host/db") == "postgresql://user@host/db"
    assert mask_url("postgresql://u:***@host/db") == "postgresql://u:***@host/db"


def test_url_secrets_scrub_a_drivers_message_of_one_url():
    url = "postgresql://app:p%40ss%2Fw0rd@db.example:5432/x?sslpassword=keyphrase9&app=y"
    assert url_secrets(url) == {"p%40ss%2Fw0rd", "p@ss/w0rd", "keyphrase9"}
    assert url_secrets("duckdb:///data/w.duckdb") == set()
    assert url_secrets(None) == set()
    # a driver echoing the decoded password and the key alone, without a URL around them
    message = 'connection failed: password "p@ss/w0rd" rejected; sslpassword keyphrase9'
    scrubbed = redact(message, url_secrets(url))
    assert "p@ss/w0rd" not in scrubbed and "keyphrase9" not in scrubbed
    assert scrubbed == f'connection failed: password "{MASK}" rejected; sslpassword {MASK}'
    # a short password named by its URL is masked too (remembered ones need 6 characters)
    short = redact('FATAL: password authentication failed: "pw1"',
                   url_secrets("postgresql://app:pw1@db/x"))
    assert "pw1" not in short
