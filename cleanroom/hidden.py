"""Names that the gate's SQL and the engine's sandbox share and analyst SQL can never name
(the gate refuses every identifier starting with ``__cr``: ``gate/parse.RESERVED_PREFIX``).

A dataset with a user_key has, beside its view, a *screen view* of the same columns and one
more, ``BUCKET``: the low 8 bits of the person's surrogate (``engine/native.py``), stored in
the native copy as one byte a row. The gate's screen (``gate/screen.py``) counts buckets from
it instead of from the 16-byte surrogate, which a scan would read only for that.
"""

from __future__ import annotations

BUCKET = "__cr_b"
BUCKET_BITS = 8


def screen_view(dataset: str) -> str:
    """The screen view of ``dataset``.

    >>> screen_view("impressions")
    '__cr_s_impressions'
    """
    return "__cr_s_" + dataset
