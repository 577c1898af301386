"""The plain progress of a dump (`LineReporter.bytes_progress`): a line at each quarter
of the file, counts in the number they take."""

from __future__ import annotations

import io

from snoopipe.orchestration.progress import LineReporter


def test_dump_progress_lines_count_in_the_right_number():
    out = io.StringIO()
    reporter = LineReporter(out)
    reporter.bytes_progress("extract", "RC_2024-06.ndjson", 39, 39, lines=1, kept=0,
                            quarantined=1)
    reporter.bytes_progress("extract", "RC_2024-07.zst", 50, 100, lines=2, kept=2)
    reporter.bytes_progress("extract", "RC_2024-07.zst", 60, 100, lines=3, kept=3)
    assert out.getvalue().splitlines() == [
        "RC_2024-06.ndjson: read 100% of 39 bytes; 1 line, kept 0, quarantined 1",
        "RC_2024-07.zst: read 50% of 100 bytes; 2 lines, kept 2, quarantined 0",
    ]  # the same quarter is not said twice


def test_log_warnings_are_said_as_the_progress_output_says_warnings(capsys):
    import logging

    from snoopipe.cli import _configure_logging

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        _configure_logging(verbose=False, log_format="text")
        logging.getLogger("snoopipe.orchestration.runner").warning(
            "taking over the pipeline lock of %s", "host:1")
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)
    assert capsys.readouterr().err == "warning: taking over the pipeline lock of host:1\n"
