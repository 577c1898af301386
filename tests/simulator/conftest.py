"""Fixtures for the simulator tests: real servers on loopback, real HTTP with requests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from snoopipe.simulator import GeneratedCorpus, RecordedCorpus, RedditSimulator

REALDATA = Path("/work/shared/realdata")
# A fixed virtual "now" (2025-06-15T15:10:00Z), aligned to a 600 s rate-limit window.
T0 = 1_750_000_200.0


class Api:
    """A tiny OAuth client for tests: token via client credentials, then bearer requests."""

    def __init__(self, sim: RedditSimulator, client_id: str = "test-client",
                 secret: str = "s3cret") -> None:
        self.sim = sim
        self.client_id = client_id
        self.secret = secret
        self.session = requests.Session()
        self.token: str | None = None
        self.reauth = True

    def authenticate(self) -> str:
        r = requests.post(self.sim.url + "/api/v1/access_token", auth=(self.client_id, self.secret),
                          data={"grant_type": "client_credentials"}, timeout=10)
        assert r.status_code == 200, r.text
        self.token = r.json()["access_token"]
        return self.token

    def get(self, path: str, **params: Any) -> requests.Response:
        if self.token is None:
            self.authenticate()
        params.setdefault("raw_json", 1)
        r = self.session.get(self.sim.url + path, params=params,
                             headers={"Authorization": f"bearer {self.token}"}, timeout=30)
        if r.status_code == 401 and self.reauth:  # expired in virtual time: renew once, as
            # prawcore does
            self.authenticate()
            r = self.session.get(self.sim.url + path, params=params,
                                 headers={"Authorization": f"bearer {self.token}"}, timeout=30)
        return r

    def post(self, path: str, **data: Any) -> requests.Response:
        if self.token is None:
            self.authenticate()
        return self.session.post(self.sim.url + path, data=data, params={"raw_json": 1},
                                 headers={"Authorization": f"bearer {self.token}"}, timeout=30)

    def json(self, path: str, **params: Any) -> Any:
        r = self.get(path, **params)
        assert r.status_code == 200, (r.status_code, r.text[:300])
        return r.json()


@pytest.fixture(scope="module")
def corpus() -> GeneratedCorpus:
    return GeneratedCorpus(seed=7, subreddits=["python", "dataengineering", "datascience"],
                           posts_per_hour=12)


@pytest.fixture(scope="module")
def shared_sim(corpus: GeneratedCorpus) -> Iterator[RedditSimulator]:
    """A read-only simulator shared by tests that do not move time or set faults."""
    with RedditSimulator(corpus, clock=lambda: T0, ratelimit_budget=100_000) as sim:
        yield sim


@pytest.fixture(scope="module")
def api(shared_sim: RedditSimulator) -> Api:
    return Api(shared_sim)


@pytest.fixture
def sim(corpus: GeneratedCorpus) -> Iterator[RedditSimulator]:
    """A fresh simulator (own clock offset, budget, faults) over the shared corpus."""
    with RedditSimulator(corpus, clock=lambda: T0, ratelimit_budget=100_000) as s:
        yield s


@pytest.fixture(scope="session")
def recorded_corpus() -> RecordedCorpus:
    return RecordedCorpus.from_dir(REALDATA / "api")
