"""A small client of the Airflow 3 REST API (`/api/v2`), logged in via the simple auth manager."""

from __future__ import annotations

import time
from typing import Any

import requests


class AirflowAPIError(RuntimeError):
    pass


class AirflowAPI:
    def __init__(self, base_url: str, username: str, password: str, *,
                 timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.username = username
        self.password = password
        self.timeout = timeout
        self._session = requests.Session()
        self._token: str | None = None
        self._token_at = 0.0

    def health(self) -> dict[str, Any]:
        """`/api/v2/monitor/health` (no login needed)."""
        response = self._session.get(f"{self.base_url}/api/v2/monitor/health",
                                     timeout=self.timeout)
        response.raise_for_status()
        return response.json()

    def token(self) -> str:
        if self._token is None or time.monotonic() - self._token_at > 600:
            response = self._session.post(
                f"{self.base_url}/auth/token",
                json={"username": self.username, "password": self.password},
                timeout=self.timeout)
            if response.status_code not in (200, 201):
                raise AirflowAPIError(f"login as {self.username} failed: HTTP "
                                      f"{response.status_code} {response.text[:200]}")
            self._token = response.json()["access_token"]
            self._token_at = time.monotonic()
        return self._token

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        url = f"{self.base_url}/api/v2/{path.lstrip('/')}"
        for attempt in range(2):
            response = self._session.request(
                method, url, headers={"Authorization": f"Bearer {self.token()}"},
                timeout=self.timeout, **kwargs)
            if response.status_code == 401 and attempt == 0:
                self._token = None  # expired: log in again
                continue
            break
        if response.status_code >= 400:
            raise AirflowAPIError(f"{method} {path}: HTTP {response.status_code} "
                                  f"{response.text[:500]}")
        return response.json() if response.content else None

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params or None)

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return self.request("POST", path, json=body)

    def patch(self, path: str, body: dict[str, Any]) -> Any:
        return self.request("PATCH", path, json=body)

    # -- the few calls snoopipe needs -------------------------------------------------

    def trigger(self, dag_id: str, *, logical_date: str | None = None,
                conf: dict[str, Any] | None = None, run_id: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"logical_date": logical_date, "conf": conf or {}}
        if run_id:
            body["dag_run_id"] = run_id
        return self.post(f"dags/{dag_id}/dagRuns", body)

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return self.get(f"dags/{dag_id}/dagRuns/{run_id}")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        return self.get(f"dags/{dag_id}/dagRuns/{run_id}/taskInstances",
                        limit=1000)["task_instances"]

    def wait_for_run(self, dag_id: str, run_id: str, *, timeout: float = 600,
                     poll: float = 2.0) -> dict[str, Any]:
        """Wait until the DAG run is success or failed; return it."""
        deadline = time.monotonic() + timeout
        while True:
            run = self.dag_run(dag_id, run_id)
            if run["state"] in ("success", "failed"):
                return run
            if time.monotonic() > deadline:
                raise TimeoutError(f"DAG run {dag_id}/{run_id} still {run['state']} after "
                                   f"{timeout:.0f}s")
            time.sleep(poll)
