"""Where the real recorded Reddit data lives, for tests."""

from __future__ import annotations

import json
from pathlib import Path

REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"
if not REALDATA.exists():  # a checkout placed elsewhere: look next to the repository
    REALDATA = Path("/work/shared/realdata")
API_DIR = REALDATA / "api"
DUMPS_DIR = REALDATA / "dumps"


def cassette(name: str) -> dict:
    return json.loads((API_DIR / "praw" / f"{name}.json").read_text())


def response_body(interaction: dict) -> str:
    body = interaction["response"]["body"]
    return body.get("string", "") if isinstance(body, dict) else body
