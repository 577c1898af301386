"""Local services for the production-shaped stack (PostgreSQL, Redis, Airflow), on loopback.

Used by `snoopipe stack up` and by the tests, which start real servers from the
Debian binaries rather than mocking them.
"""
