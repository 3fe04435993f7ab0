"""``cleanroom hash`` on files: worker processes, counts of unusable values, the hand-off to an
upload (output column, --kind warning, refusal with counts) and salts (CONTRACT.md §1, §7)."""

from __future__ import annotations

import csv
import hashlib
import hmac
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from cleanroom.cli import app
from cleanroom.hmac_pool import DigestPool, digest_buffers, key_states
from cleanroom.pseudonym import (
    SALT_BYTES,
    hash_file,
    read_salt,
    salt_fingerprint,
    value_buffers,
)
from cleanroom.pseudonym_files import HashReport, UnusableValues, pseudonymize_file

SALT = b"collab-2024-shared-salt-0123456789"


def reference(value: str) -> str:
    return hmac.new(SALT, value.encode(), hashlib.sha256).hexdigest()


def write_emails(path: Path, emails: list[str]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "email"])
        writer.writerows([str(i), e] for i, e in enumerate(emails))


def read_rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


EMAILS = [f" User{i % 700}@Example.COM" if i % 11 else "n/a" for i in range(5000)] + [""] * 3


# --- worker processes ----------------------------------------------------------------------


def test_pool_gives_the_same_bytes_as_one_process(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    write_emails(src, EMAILS)
    outputs = []
    for workers in (0, 2):
        for ext in ("csv", "parquet"):
            dst = tmp_path / f"out{workers}.{ext}"
            pseudonymize_file(src, dst, column="email", kind="email", salt=SALT,
                              batch_rows=700, workers=workers)
            outputs.append(dst.read_bytes())
    assert outputs[0] == outputs[2] and outputs[1] == outputs[3]
    rows = read_rows(tmp_path / "out2.csv")[1:]
    expected = ["" if e.strip() in ("", "n/a") else reference(e.strip().lower()) for e in EMAILS]
    assert [r[1] for r in rows] == expected


def test_digest_pool_matches_hmac_for_any_lengths() -> None:
    values = pa.array(["", "a", "é" * 40, "x" * 200, "jane@example.com"] * 3).slice(2)
    with DigestPool(SALT, workers=2) as pool:
        answers = [pool.submit(*value_buffers(values)) for _ in range(5)]
        hexes = [a.result() for a in answers]
    expected = "".join(reference(v) for v in values.to_pylist()).encode()
    assert hexes == [expected] * 5
    assert digest_buffers(*value_buffers(values), key_states(SALT)) == expected


def test_a_failure_mid_file_with_workers_leaves_no_output(tmp_path: Path) -> None:
    src, dst = tmp_path / "in.parquet", tmp_path / "out.csv"
    table = pa.table({"email": ["a@b.c"] * 10, "tags": [[1]] * 10})  # a list cannot be CSV
    pq.write_table(table, src)
    with pytest.raises(ValueError, match="could not be pseudonymized"):
        pseudonymize_file(src, dst, column="email", kind="email", salt=SALT, workers=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.parquet"]


# --- counts and the output column ----------------------------------------------------------


def test_report_counts_blank_and_unusable_values(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    write_emails(src, ["a@b.io", "  ", "", "nope", "c@d.io", "@x"])
    report = pseudonymize_file(src, tmp_path / "o.csv", column="email", kind="email", salt=SALT)
    assert report == HashReport(rows=6, blank=2, unusable=2)
    assert report.given == 4 and report.unusable_share == 0.5


def test_too_many_unusable_values_write_nothing(tmp_path: Path) -> None:
    src, dst = tmp_path / "in.csv", tmp_path / "out.csv"
    write_emails(src, ["a@b.io"] * 90 + ["secret-value"] * 10)
    with pytest.raises(UnusableValues, match=r"10 of 100 .*10\.0%") as caught:
        pseudonymize_file(src, dst, column="email", kind="email", salt=SALT,
                          max_unusable_share=0.05)
    assert "secret-value" not in str(caught.value)
    assert caught.value.report == HashReport(100, 0, 10)
    assert not dst.exists()
    pseudonymize_file(src, dst, column="email", kind="email", salt=SALT, max_unusable_share=0.1)
    assert dst.exists()


def test_output_column_renames_the_hashed_column_only(tmp_path: Path) -> None:
    src, dst = tmp_path / "in.csv", tmp_path / "out.csv"
    write_emails(src, ["a@b.io"])
    pseudonymize_file(src, dst, column="email", kind="email", salt=SALT, output_column="user_key")
    assert read_rows(dst) == [["id", "user_key"], ["0", reference("a@b.io")]]
    with pytest.raises(ValueError, match="already a column"):
        pseudonymize_file(src, dst, column="email", kind="email", salt=SALT, output_column="id")


def test_hash_file_keeps_the_column_name(tmp_path: Path) -> None:
    src, dst = tmp_path / "in.csv", tmp_path / "out.csv"
    write_emails(src, ["a@b.io"])
    assert hash_file(src, dst, column="email", kind="email", salt=SALT) == 1
    assert read_rows(dst)[0] == ["id", "email"]


# --- the command line ----------------------------------------------------------------------

runner = CliRunner()


def salt_file(tmp_path: Path) -> Path:
    path = tmp_path / "salt"
    path.write_bytes(SALT)
    return path


def test_hash_writes_user_key_and_prints_the_fingerprint(tmp_path: Path) -> None:
    src, dst = tmp_path / "in.csv", tmp_path / "out.csv"
    write_emails(src, [" A@B.io", ""])
    result = runner.invoke(app, ["hash", "--salt-file", str(salt_file(tmp_path)), "--column",
                                 "email", "--kind", "email", str(src), str(dst)])
    assert result.exit_code == 0, result.stderr
    assert read_rows(dst) == [["id", "user_key"], ["0", reference("a@b.io")], ["1", ""]]
    assert f"fingerprint: {salt_fingerprint(SALT)}" in result.stderr.splitlines()
    assert "warning" not in result.stderr and result.stdout == ""


def test_hash_honours_output_column(tmp_path: Path) -> None:
    src, dst = tmp_path / "in.csv", tmp_path / "out.csv"
    write_emails(src, ["a@b.io"])
    result = runner.invoke(app, ["hash", "--salt-file", str(salt_file(tmp_path)), "--column",
                                 "email", "--kind", "email", "--output-column", "person",
                                 str(src), str(dst)])
    assert result.exit_code == 0, result.stderr
    assert read_rows(dst)[0] == ["id", "person"]


def test_hash_warns_when_kind_is_left_at_raw(tmp_path: Path) -> None:
    src, dst = tmp_path / "in.csv", tmp_path / "out.csv"
    write_emails(src, ["A@B.io "])
    result = runner.invoke(app, ["hash", "--salt-file", str(salt_file(tmp_path)), "--column",
                                 "email", str(src), str(dst)])
    assert result.exit_code == 0
    assert "warning: --kind not given" in result.stderr
    assert read_rows(dst)[1] == ["0", reference("A@B.io ")]  # raw: exactly as given


def test_hash_phone_on_an_email_column_fails_with_counts(tmp_path: Path) -> None:
    src, dst = tmp_path / "in.csv", tmp_path / "out.csv"
    write_emails(src, [f"person{i}@example.com" for i in range(7554)])
    result = runner.invoke(app, ["hash", "--salt-file", str(salt_file(tmp_path)), "--column",
                                 "email", "--kind", "phone", str(src), str(dst)])
    assert result.exit_code == 1
    assert "7554 of 7554" in result.stderr and "100.0%" in result.stderr
    assert "person0" not in result.stderr
    assert not dst.exists()


def test_salt_new_writes_32_random_bytes_once(tmp_path: Path) -> None:
    out = tmp_path / "collab.salt"
    result = runner.invoke(app, ["salt", "new", str(out)])
    assert result.exit_code == 0, result.stderr
    salt = out.read_bytes()
    assert len(salt) == SALT_BYTES and read_salt(out) == salt
    assert out.stat().st_mode & 0o777 == 0o600
    assert f"fingerprint: {salt_fingerprint(salt)}" in result.stderr
    again = runner.invoke(app, ["salt", "new", str(out)])
    assert again.exit_code == 2 and out.read_bytes() == salt
    other = tmp_path / "other.salt"
    assert runner.invoke(app, ["salt", "new", str(other)]).exit_code == 0
    assert other.read_bytes() != salt


def test_fingerprint_is_16_hex_and_not_the_salt_or_a_pseudonym() -> None:
    fingerprint = salt_fingerprint(SALT)
    assert len(fingerprint) == 16 and int(fingerprint, 16) >= 0
    assert fingerprint not in SALT.hex() and fingerprint not in SALT.decode()
    assert fingerprint not in hashlib.sha256(SALT).hexdigest()
    assert salt_fingerprint(SALT + b"x") != fingerprint


def test_hash_on_bad_input_fails_with_1_and_wrong_usage_is_2(tmp_path: Path) -> None:
    """CONTRACT.md §5's exit status: a file that cannot be pseudonymized (malformed, a missing
    column, no such file) is a failure, 1, with no value of it echoed and nothing written; a
    command line that is wrong (an OUT that is neither .csv nor .parquet) is 2."""
    salt = str(salt_file(tmp_path))
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("email,id\nCANARY-7f3a@x.io,1,extra\n")
    good = tmp_path / "good.csv"
    write_emails(good, ["a@b.io"])
    for src, column in ((ragged, "email"), (good, "phone"), (tmp_path / "none.csv", "email")):
        dst = tmp_path / f"out-{src.stem}-{column}.csv"
        result = runner.invoke(app, ["hash", "--salt-file", salt, "--column", column, "--kind",
                                     "email", str(src), str(dst)])
        assert result.exit_code == 1, (src, result.stderr)
        assert "error:" in result.stderr and "CANARY" not in result.output + result.stderr
        assert not dst.exists()
    wrong = runner.invoke(app, ["hash", "--salt-file", salt, "--column", "email", "--kind",
                                "email", str(good), str(tmp_path / "out.txt")])
    assert wrong.exit_code == 2 and not (tmp_path / "out.txt").exists()
