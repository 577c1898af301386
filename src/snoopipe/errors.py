"""Exceptions a user may see. Each message says what went wrong and what to do."""


class SnoopipeError(Exception):
    """Base class for errors that the CLI reports without a traceback."""


class ConfigError(SnoopipeError):
    """Settings are missing, malformed, or point at an unsupported backend."""


class ExtractError(SnoopipeError):
    """The Reddit API could not be read within the retry budget."""


class LakeError(SnoopipeError):
    """The lake refused a read or a write."""


class BlockingCheckFailed(SnoopipeError):
    """A blocking data-quality check failed, so the load did not run."""


class RunLockedError(SnoopipeError):
    """Another run holds the pipeline lock for these settings."""
