"""The native part of snoopipe's build; everything else is declared in pyproject.toml.

`snoopipe.transform._extra` (C) computes the `extra` column in one pass over the lines'
bytes. It is optional: where it cannot be compiled (no C compiler), or with
SNOOPIPE_PURE_PYTHON=1 (the wheel shipped to AWS Glue, whose platform is not the
builder's), snoopipe computes the same bytes with msgspec (`rules._extra_python`).
"""

import os

from setuptools import Extension, setup

native = [] if os.environ.get("SNOOPIPE_PURE_PYTHON") == "1" else [
    Extension("snoopipe.transform._extra", ["src/snoopipe/transform/_extra.c"],
              extra_compile_args=["-O2"], optional=True),
]

setup(ext_modules=native)
