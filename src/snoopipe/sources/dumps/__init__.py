"""Reddit dump archives (Pushshift / Arctic Shift `RS_*` / `RC_*` NDJSON, plain or zstd).

- `inputs`: FILE_OR_URL -> a stream (local path, file://, http(s):// streamed);
- `stream`: zstd with a 2 GiB window, fixed-grid blocks of lines, truncation detection;
- `select`: per block, one DuckDB pass: check, filter by subreddit and time, raw lines;
- `extract`: segments -> raw zone files + manifest + reader quarantine + checkpoints.
"""

from snoopipe.sources.dumps.extract import DumpProgress, extract_dump_file
from snoopipe.sources.dumps.inputs import DumpInput, DumpInputError, resolve_input
from snoopipe.sources.dumps.select import ALL, DumpFilter

__all__ = ["ALL", "DumpFilter", "DumpInput", "DumpInputError", "DumpProgress",
           "extract_dump_file", "resolve_input"]
