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


# -- per-person counts, for bounding contributions (privacy/dp_sql.py) ------------------------
# A dataset with a user_key also has a *stats view*: its columns, and for each row its person's
# number of rows in the dataset version (``PERSON_ROWS``) and, per column that is grouped on
# (``has_person_counts``), the person's number of distinct values of it and the most rows they
# have with one value. They are counted once, when the native copy is built
# (``engine/native.py``), and let a DP query skip ranking the people who are within its bounds
# whatever its WHERE (which only drops rows) or its groups.
PERSON_ROWS = "__cr_pn"
_NO_COUNTS = ("TIMESTAMP", "TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE", "DOUBLE", "FLOAT", "REAL")


def stats_view(dataset: str) -> str:
    """The stats view of ``dataset``.

    >>> stats_view("impressions")
    '__cr_t_impressions'
    """
    return "__cr_t_" + dataset


def person_values(column: str) -> str:
    """The stats view's column: how many distinct values of ``column`` the row's person has."""
    return "__cr_pd_" + column


def person_most(column: str) -> str:
    """The stats view's column: the most rows the row's person has with one value of ``column``."""
    return "__cr_pm_" + column


def has_person_counts(view_type: str) -> bool:
    """Whether a column (not the user_key) of this view type has per-person counts: not a
    timestamp (nearly one value per row) nor a floating-point number (a clamped metric).

    >>> has_person_counts("VARCHAR"), has_person_counts("TIMESTAMP"), has_person_counts("DOUBLE")
    (True, False, False)
    """
    return view_type.upper() not in _NO_COUNTS
