"""Tests for cleanroom.pseudonym: known answers, normalization per kind, file round trips."""

from __future__ import annotations

import csv
import hashlib
import hmac
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cleanroom import pseudonym
from cleanroom.pseudonym import Hasher, hash_file, normalize, normalize_array, read_salt

SALT = b"collab-2024-shared-salt-0123456789"
HEX64 = re.compile(r"[0-9a-f]{64}")


def reference(salt: bytes, normalized: str) -> str:
    """The pseudonym computed the slow, obvious way."""
    return hmac.new(salt, normalized.encode(), hashlib.sha256).hexdigest()


# --- known answers -------------------------------------------------------------------------

RFC4231 = [  # RFC 4231 test cases 1 and 6 (the second key is longer than a SHA-256 block)
    (
        b"\x0b" * 20,
        "Hi There",
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
    ),
    (
        b"\xaa" * 131,
        "Test Using Larger Than Block-Size Key - Hash Key First",
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
    ),
]


@pytest.mark.parametrize(("salt", "message", "expected"), RFC4231)
def test_rfc4231_vectors(salt: bytes, message: str, expected: str) -> None:
    assert Hasher(salt).hash(message) == expected == reference(salt, message)


@pytest.mark.parametrize("salt", [SALT[:16], SALT, b"\x00" * 64, bytes(range(65)), b"k" * 200])
@pytest.mark.parametrize("value", ["", "jane@example.com", "+14155550123", "élodie@exemple.fr"])
def test_hash_matches_hmac_new(salt: bytes, value: str) -> None:
    assert Hasher(salt).hash(value) == reference(salt, value)


def test_hash_many_normalizes_then_hashes() -> None:
    hashed = Hasher(SALT).hash_many([" Jane@Example.COM", None, "", "jane@example.com"], "email")
    expected = reference(SALT, "jane@example.com")
    assert hashed == [expected, None, None, expected]


def test_hash_many_across_slices_with_repeats() -> None:
    values = [f"user{i % 50_000}@example.com" if i % 7 else None for i in range(70_000)]
    hashed = Hasher(SALT).hash_many(values, "raw")
    assert hashed == [None if v is None else reference(SALT, v) for v in values]
    assert Hasher(SALT).hash_many([], "raw") == []


@settings(max_examples=200, deadline=None)
@given(salt=st.binary(min_size=16, max_size=150), value=st.text())
def test_hash_equals_hmac_for_any_text(salt: bytes, value: str) -> None:
    assert Hasher(salt).hash(value) == reference(salt, value)


# --- salt ----------------------------------------------------------------------------------


def test_read_salt_strips_surrounding_whitespace(tmp_path: Path) -> None:
    path = tmp_path / "salt"
    path.write_bytes(b"  \t0123456789abcdef \n")
    assert read_salt(path) == b"0123456789abcdef"


def test_read_salt_refuses_short_salt_without_echoing_it(tmp_path: Path) -> None:
    path = tmp_path / "salt"
    path.write_bytes(b"   tooShortSalt123   \n")  # 15 bytes once trimmed, 22 on disk
    with pytest.raises(ValueError, match="15 bytes") as caught:
        read_salt(path)
    assert "tooShortSalt123" not in str(caught.value)


def test_hasher_refuses_short_salt() -> None:
    with pytest.raises(ValueError, match="at least 16 bytes"):
        Hasher(b"0123456789abcde")


# --- normalization -------------------------------------------------------------------------

EMAILS = [
    ("  Jane.Doe@Example.COM  ", "jane.doe@example.com"),
    ("\tJOHN@EXAMPLE.ORG\r\n", "john@example.org"),
    ("j.o.h.n+promo@GMail.com", "j.o.h.n+promo@gmail.com"),  # no provider-specific tricks
    ("\u00a0ÉLODIE@Exemple.FR ", "élodie@exemple.fr"),  # Unicode space and case
    ("a@b", "a@b"),
    ("", None),
    ("   ", None),
    ("n/a", None),
    ("@example.com", None),
    ("jane@", None),
]
US_PHONES = [
    ("(415) 555-0123", "+14155550123"),
    ("415.555.0123", "+14155550123"),
    ("4155550123", "+14155550123"),
    ("1-415-555-0123", "+14155550123"),  # US trunk prefix 1
    ("+1 (415) 555-0123", "+14155550123"),
    ("001 415 555 0123", "+14155550123"),
    ("00 44 20 7946 0958", "+442079460958"),
    ("+44 (0)20 7946 0958", "+442079460958"),
    ("tel: +1 415 555 0123", "+14155550123"),
    ("555-0123", None),  # too short for a US national number
    ("", None),
    ("n/a", None),
    ("+", None),
    ("+0 415 555 0123", None),  # no calling code starts with 0
    ("+1234567890123456", None),  # 16 digits: longer than E.164 allows
]
GB_PHONES = [
    ("07911 123456", "+447911123456"),  # UK trunk prefix 0
    ("020 7946 0958", "+442079460958"),
    ("(0)20 7946 0958", "+442079460958"),
    ("+44 7911 123456", "+447911123456"),
    ("0044 7911 123456", "+447911123456"),
    ("7911 123456", "+447911123456"),
    ("+1 415 555 0123", "+14155550123"),
    ("00 1 415 555 0123", "+14155550123"),
    ("0", None),
]
RAW = [("  Keep  Spaces ", "  Keep  Spaces "), ("ABC-123", "ABC-123"), ("\t", "\t"), ("", None)]

CASES = (
    [(v, "email", "US", e) for v, e in EMAILS]
    + [(v, "phone", "US", e) for v, e in US_PHONES]
    + [(v, "phone", "GB", e) for v, e in GB_PHONES]
    + [(v, "raw", "US", e) for v, e in RAW]
)


@pytest.mark.parametrize(("value", "kind", "region", "expected"), CASES)
def test_normalize(value: str, kind: pseudonym.Kind, region: str, expected: str | None) -> None:
    assert normalize(value, kind, default_region=region) == expected


@pytest.mark.parametrize(("kind", "region"), [("email", "US"), ("phone", "US"), ("phone", "GB")])
def test_normalize_array_matches_table(kind: pseudonym.Kind, region: str) -> None:
    cases = [(v, e) for v, k, r, e in CASES if (k, r) == (kind, region)]
    values = pa.array([v for v, _ in cases] + [None])
    result = normalize_array(values, kind, default_region=region).to_pylist()
    assert result == [e for _, e in cases] + [None]


PHONE_ALPHABET = st.sampled_from([*"0123456789+()-. \t", "(0)", "00", "٣", "x", "é"])
phone_like = st.lists(PHONE_ALPHABET, max_size=24).map("".join)
email_like = st.text(alphabet=st.sampled_from(list("aB@. \t\n\x1c+É\u00a0İ")), max_size=12)


@settings(max_examples=150, deadline=None)
@given(
    values=st.lists(st.one_of(st.none(), st.text(max_size=20), phone_like, email_like)),
    kind=st.sampled_from(pseudonym.KINDS),
    region=st.sampled_from(["US", "GB", "DE", "IT"]),
)
def test_vectorized_normalization_equals_reference(
    values: list[str | None], kind: pseudonym.Kind, region: str
) -> None:
    expected = [None if v is None else normalize(v, kind, default_region=region) for v in values]
    result = normalize_array(pa.array(values, pa.string()), kind, default_region=region)
    assert result.to_pylist() == expected


def test_unknown_kind_and_region_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown identifier kind"):
        normalize("x", "name")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown phone region"):
        normalize("415 555 0123", "phone", default_region="XX")


# --- files ---------------------------------------------------------------------------------

CSV_ROWS = [
    ["id", "email", "amount", "note"],
    ["007", "  Jane@Example.com", "1.50", 'says "hi", twice'],
    ["008", "", "", "NA"],
    ["009", "bob@example.org", "-0", "line one\nline two"],
    ["010", "n/a", "1e3", "NULL"],
]


def write_csv(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)


def read_csv(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def expected_pseudonym(value: str | None, kind: pseudonym.Kind) -> str | None:
    normalized = None if value is None else normalize(value, kind)
    return None if normalized is None else reference(SALT, normalized)


def assert_pseudonymized(original: list[str | None], hashed: list[str | None]) -> None:
    assert hashed == [expected_pseudonym(v, "email") for v in original]
    assert all(h is None or HEX64.fullmatch(h) for h in hashed)


@pytest.mark.parametrize("batch_rows", [1, 65536])
def test_csv_round_trip(tmp_path: Path, batch_rows: int) -> None:
    src, dst = tmp_path / "in.csv", tmp_path / "out.CSV"
    write_csv(src, CSV_ROWS)
    rows = hash_file(src, dst, column="email", kind="email", salt=SALT, batch_rows=batch_rows)
    out = read_csv(dst)
    assert rows == len(CSV_ROWS) - 1 and len(out) == len(CSV_ROWS)
    others = [[r[0], r[2], r[3]] for r in CSV_ROWS]
    assert [[r[0], r[2], r[3]] for r in out] == others  # copied as text: "007", "1.50", "NA"
    assert_pseudonymized([r[1] for r in CSV_ROWS[1:]], [r[1] or None for r in out[1:]])


def sample_table() -> pa.Table:
    return pa.table(
        {
            "user_id": pa.array([1, 2, 3, None], pa.int64()),
            "email": pa.array(["A@X.io", None, " b@y.io", "?"], pa.string()),
            "spend": pa.array([1.5, None, 0.0, 2.25], pa.float64()),
            "at": pa.array([0, 1, 2, 3], pa.timestamp("ms", tz="UTC")),
            "tags": pa.array([[1], [], None, [2, 3]], pa.list_(pa.int32())),
        }
    )


@pytest.mark.parametrize("batch_rows", [3, 65536])
def test_parquet_round_trip_keeps_other_columns_and_types(tmp_path: Path, batch_rows: int) -> None:
    src, dst = tmp_path / "in.parquet", tmp_path / "out.Parquet"
    table = sample_table()
    pq.write_table(table, src)
    rows = hash_file(src, dst, column="email", kind="email", salt=SALT, batch_rows=batch_rows)
    out = pq.read_table(dst)
    assert rows == table.num_rows == out.num_rows
    for name in ("user_id", "spend", "at", "tags"):
        assert out.schema.field(name) == table.schema.field(name)
        assert out.column(name).equals(table.column(name))
    assert out.column_names == table.column_names
    assert_pseudonymized(table.column("email").to_pylist(), out.column("email").to_pylist())


def test_csv_to_parquet_and_back(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    write_csv(src, CSV_ROWS)
    hash_file(src, tmp_path / "mid.parquet", column="email", kind="email", salt=SALT)
    mid = pq.read_table(tmp_path / "mid.parquet")
    assert mid.column("id").to_pylist() == ["007", "008", "009", "010"]
    assert mid.schema.field("amount").type == pa.string()
    hash_file(tmp_path / "mid.parquet", tmp_path / "out.csv", column="id", kind="raw", salt=SALT)
    out = read_csv(tmp_path / "out.csv")
    assert [r[1] for r in out[1:]] == [h or "" for h in mid.column("email").to_pylist()]
    assert [r[0] for r in out[1:]] == [reference(SALT, v) for v in ("007", "008", "009", "010")]


def test_numeric_phone_column_is_hashed_as_text(tmp_path: Path) -> None:
    src, dst = tmp_path / "in.parquet", tmp_path / "out.parquet"
    pq.write_table(pa.table({"phone": pa.array([14155550123, None, 7], pa.int64())}), src)
    hash_file(src, dst, column="phone", kind="phone", salt=SALT)
    expected = [reference(SALT, "+14155550123"), None, None]
    assert pq.read_table(dst).column("phone").to_pylist() == expected


def test_empty_csv_keeps_its_header(tmp_path: Path) -> None:
    src, dst = tmp_path / "in.csv", tmp_path / "out.csv"
    write_csv(src, [["id", "email"]])
    assert hash_file(src, dst, column="email", kind="email", salt=SALT) == 0
    assert read_csv(dst) == [["id", "email"]]


def test_missing_column_names_it_and_writes_nothing(tmp_path: Path) -> None:
    src, dst = tmp_path / "in.csv", tmp_path / "out.csv"
    write_csv(src, CSV_ROWS)
    with pytest.raises(ValueError, match="'mail'"):
        hash_file(src, dst, column="mail", kind="email", salt=SALT)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("out.txt", {}, r"\.csv or \.parquet"),
        ("out.csv", {"kind": "name"}, "unknown identifier kind"),
        ("out.csv", {"kind": "phone", "default_region": "XX"}, "unknown phone region"),
        ("out.csv", {"salt": b"short"}, "at least 16 bytes"),
    ],
)
def test_bad_arguments_write_nothing(
    tmp_path: Path, name: str, kwargs: dict[str, object], message: str
) -> None:
    src = tmp_path / "in.csv"
    write_csv(src, CSV_ROWS)
    arguments: dict[str, object] = {"column": "email", "kind": "email", "salt": SALT, **kwargs}
    with pytest.raises(ValueError, match=message):
        hash_file(src, tmp_path / name, **arguments)  # type: ignore[arg-type]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


def test_failure_mid_file_leaves_no_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src, dst = tmp_path / "in.csv", tmp_path / "out.csv"
    write_csv(src, CSV_ROWS)
    calls = []
    real = pseudonym.normalize_array

    def fail_on_second_batch(*args: object, **kwargs: object) -> pa.Array:
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk on fire")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pseudonym, "normalize_array", fail_on_second_batch)
    with pytest.raises(RuntimeError):
        hash_file(src, dst, column="email", kind="email", salt=SALT, batch_rows=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


def test_failure_keeps_an_existing_output_intact(tmp_path: Path) -> None:
    src, dst = tmp_path / "in.parquet", tmp_path / "out.csv"
    pq.write_table(sample_table(), src)  # a list column cannot be written as CSV
    dst.write_text("previous run\n")
    with pytest.raises(ValueError, match="could not be pseudonymized"):
        hash_file(src, dst, column="email", kind="email", salt=SALT)
    assert dst.read_text() == "previous run\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.parquet", "out.csv"]


@pytest.mark.parametrize(
    "content", [b"id,email\n1,a@b.c\n2,secret@pii.example,extra\n", b"id,email\n1,secret\xff@pii\n"]
)
def test_malformed_csv_error_does_not_echo_data(tmp_path: Path, content: bytes) -> None:
    src = tmp_path / "in.csv"
    src.write_bytes(content)
    with pytest.raises(ValueError, match="could not be pseudonymized") as caught:
        hash_file(src, tmp_path / "out.csv", column="email", kind="email", salt=SALT)
    assert "secret" not in str(caught.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]
