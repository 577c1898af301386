"""Reddit dump archives (Pushshift / Arctic Shift `RS_*` / `RC_*`, per-subreddit files).

- `inputs`: FILE_OR_URL -> dump files (paths, directories, globs, file://, http(s)://);
- `compression`: zstd (2 GiB window, block by block), gzip, bzip2, xz, by magic bytes;
- `documents`: a JSON array or API response file -> one element a line;
- `stream`: decompressed NDJSON cut into fixed-grid blocks of lines, damage detection;
- `select`: per block, one DuckDB pass: check, filter by subreddit and time, raw lines;
- `sniff`: what a file that gave no usable line looks like;
- `extract`: segments -> raw zone files + manifest + reader quarantine + checkpoints.
"""

from snoopipe.sources.dumps.extract import DumpProgress, extract_dump_file
from snoopipe.sources.dumps.inputs import (
    DumpInput,
    DumpInputError,
    resolve_input,
    resolve_inputs,
)
from snoopipe.sources.dumps.select import ALL, DumpFilter

__all__ = ["ALL", "DumpFilter", "DumpInput", "DumpInputError", "DumpProgress",
           "extract_dump_file", "resolve_input", "resolve_inputs"]
