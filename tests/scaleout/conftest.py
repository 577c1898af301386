"""Scale-out tests: real multi-process clusters (Spark standalone, Celery worker hosts)
sharing only network services (S3 on moto's server, PostgreSQL, Redis)."""

from __future__ import annotations

from tests.fixtures.moto_s3 import moto_server, s3_env  # noqa: F401  (fixtures)
