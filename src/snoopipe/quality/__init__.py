"""Validation: SQL checks over the processed tables, results in the state store."""

from snoopipe.quality.checks import BLOCKING, CHECKS, WARNING, Check
from snoopipe.quality.validate import run_validation

__all__ = ["BLOCKING", "CHECKS", "WARNING", "Check", "run_validation"]
