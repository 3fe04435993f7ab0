"""The audit log: every decision recorded, with rule codes and counts, never a data value."""

from __future__ import annotations

from tests.canary import CanaryData
from tests.conftest import COLLAB, Harness

GOOD = "SELECT channel, COUNT(DISTINCT user_key) AS people FROM impressions GROUP BY channel"
BAD = "SELECT user_key, ip_hash FROM impressions"
FAILS = "SELECT campaign, COUNT(*) AS n FROM impressions GROUP BY campaign HAVING n > 0"


def entries(h: Harness) -> list[dict]:
    response = h.client.get(f"/v1/collaborations/{COLLAB}/audit", headers=h.auth("reviewer"))
    assert response.status_code == 200
    return response.json()["entries"]


def test_every_decision_is_recorded(loaded: Harness, canary: CanaryData) -> None:
    accepted = loaded.query(GOOD).json()["query_id"]
    assert loaded.query(BAD).status_code == 422
    loaded.check(GOOD)
    log = entries(loaded)
    by_id = {e["query_id"]: e for e in log if e["query_id"]}
    assert by_id[accepted]["decision"] == "accepted"
    assert by_id[accepted]["party"] == "acme" and by_id[accepted]["action"] == "query"
    # The 7-person channel is withheld; below half the threshold it is not counted.
    assert by_id[accepted]["detail"]["rows"] == 5 and by_id[accepted]["detail"]["suppressed_rows"] == 0
    rejected = [e for e in log if e["decision"] == "rejected" and e["detail"].get("sql") == BAD]
    assert rejected and {"user_key_output", "banned_column"} <= set(rejected[0]["detail"]["rules"])
    assert any(e["action"] == "check" for e in log)
    # Uploads came first; other tests' queries on the shared harness may have pushed them off
    # the first page, so ask for them by action (CONTRACT.md §4, ``?action=``).
    response = loaded.client.get(f"/v1/collaborations/{COLLAB}/audit?action=upload",
                                 headers=loaded.auth("reviewer"))
    assert response.status_code == 200
    uploads = response.json()["entries"]
    assert uploads and all(e["action"] == "upload" for e in uploads)
    assert {e["party"] for e in uploads} == {"streamco", "acme"}


def test_audit_never_holds_data_values(loaded: Harness, canary: CanaryData) -> None:
    for sql in (GOOD, BAD, "SELECT campaign, COUNT(*) AS n FROM impressions GROUP BY campaign",
                "SELECT CAST(campaign AS INTEGER) AS c, COUNT(*) AS n FROM impressions GROUP BY 1"):
        loaded.query(sql)
    # The log keeps each analyst's SQL (other tests send SQL that names canaries): a canary may
    # appear in an entry only where that entry's own SQL contained it.
    for entry in entries(loaded):
        assert canary.entry_leaks(entry, entry["detail"].get("sql") or "") == [], entry


def test_audit_pages_and_filters_as_the_contract_says(loaded: Harness, canary: CanaryData) -> None:
    """CONTRACT.md §4: ``?since=ISO&action=&party=&limit=&cursor=`` -> entries, next_cursor."""
    import datetime as dt
    start = dt.datetime.now(dt.UTC).isoformat()
    for sql in (GOOD, BAD, GOOD, GOOD):
        loaded.query(sql)
    loaded.check(GOOD)
    url = f"/v1/collaborations/{COLLAB}/audit"

    def page(**params: object) -> dict:
        response = loaded.client.get(url, params=params, headers=loaded.auth("reviewer"))
        assert response.status_code == 200, response.text
        return response.json()

    # This test's entries: the shared harness holds other tests' too, before ``start``.
    mine = page(since=start)
    ids = [e["id"] for e in mine["entries"]]
    assert len(ids) == 5 and ids == sorted(ids, reverse=True) and mine["next_cursor"] is None
    first = page(since=start, limit=2)
    assert [e["id"] for e in first["entries"]] == ids[:2] and first["next_cursor"] == str(ids[1])
    second = page(since=start, limit=2, cursor=first["next_cursor"])
    assert [e["id"] for e in second["entries"]] == ids[2:4] and second["next_cursor"]
    last = page(since=start, limit=2, cursor=second["next_cursor"])
    assert [e["id"] for e in last["entries"]] == ids[4:] and last["next_cursor"] is None
    assert page(since=start, limit=5)["next_cursor"] is None  # a last page that is full
    queries = page(since=start, action="query")["entries"]
    assert len(queries) == 4 and {e["action"] for e in queries} == {"query"}
    assert {e["decision"] for e in queries} == {"accepted", "rejected"}
    assert {e["party"] for e in page(party="streamco")["entries"]} == {"streamco"}
    assert page(since=start, party="streamco")["entries"] == []
    assert page(since="2999-01-01T00:00:00Z")["entries"] == []
    for bad in ({"limit": 0}, {"since": "yesterday"}, {"cursor": "x"}):
        response = loaded.client.get(url, params=bad, headers=loaded.auth("reviewer"))
        assert response.status_code == 422 and response.json()["error"]["code"], bad


IMPRESSIONS_ONLY = GOOD
CONVERSIONS_ONLY = "SELECT COUNT(DISTINCT user_key) AS buyers FROM conversions"
BOTH = ("SELECT i.channel, COUNT(DISTINCT c.user_key) AS buyers FROM impressions i "
        "JOIN conversions c ON i.user_key = c.user_key GROUP BY i.channel")


def test_a_provider_reads_the_entries_of_queries_on_its_datasets(loaded: Harness) -> None:
    """CONTRACT.md §4: a provider reads the entries of the queries that read its datasets,
    refused ones included, and no others; compliance reads them all."""
    import datetime as dt
    start = dt.datetime.now(dt.UTC).isoformat()
    ids = {sql: loaded.query(sql).json().get("query_id") for sql in
           (IMPRESSIONS_ONLY, CONVERSIONS_ONLY, BOTH)}
    refused = loaded.query("SELECT user_key FROM impressions")
    assert refused.status_code == 422 and all(ids.values())
    url = f"/v1/collaborations/{COLLAB}/audit"

    def seen(party: str, **params: object) -> list[dict]:
        response = loaded.client.get(url, params={"since": start, **params},
                                     headers=loaded.auth(party))
        assert response.status_code == 200, response.text
        return response.json()["entries"]

    streamco = seen("streamco")
    assert {e["query_id"] for e in streamco if e["decision"] == "accepted"} == {
        ids[IMPRESSIONS_ONLY], ids[BOTH]}
    assert any(e["decision"] == "rejected" for e in streamco)
    assert all("impressions" in e["detail"]["datasets"] for e in streamco)
    acme = {e["query_id"] for e in seen("acme")}
    assert acme == {ids[CONVERSIONS_ONLY], ids[BOTH]}
    assert len(seen("reviewer", action="query")) == 4
    first = loaded.client.get(url, params={"since": start, "limit": 1},
                              headers=loaded.auth("streamco")).json()
    assert [e["id"] for e in first["entries"]] == [streamco[0]["id"]] and first["next_cursor"]


def test_every_entry_names_its_policy_version_and_is_hash_chained(fresh: Harness) -> None:
    """CONTRACT.md §4: every entry names the policy version it was decided under and is
    hash-chained to the one before; an entry edited afterwards breaks the chain there."""
    import sqlite3

    from cleanroom import audit
    from cleanroom.store import Store
    for sql in (GOOD, BAD, GOOD):
        fresh.query(sql)
    response = fresh.client.get(f"/v1/collaborations/{COLLAB}/audit",
                                headers=fresh.auth("reviewer"))
    log = response.json()["entries"]
    assert len(log) == 3 and all(e["policy_version"] == 1 for e in log)
    assert all(len(e["hash"]) == 64 and int(e["hash"], 16) >= 0 for e in log)
    assert len({e["hash"] for e in log}) == 3
    store = Store(fresh.data_dir)
    assert audit.verify(store) is None
    middle = log[1]["id"]
    with sqlite3.connect(fresh.data_dir / "meta.sqlite") as con:
        con.execute("UPDATE audit SET decision = 'accepted' WHERE id = ?", (middle,))
    assert audit.verify(store) == middle


def test_entry_times_are_iso_8601_as_since_takes_them(fresh: Harness) -> None:
    """``?since=ISO`` filters on ``at``: an entry's ``at`` is ISO 8601 in UTC, so that a page's
    last time can be passed back as ``since``."""
    import datetime as dt
    fresh.query(GOOD)
    url = f"/v1/collaborations/{COLLAB}/audit"
    (entry,) = fresh.client.get(url, headers=fresh.auth("reviewer")).json()["entries"]
    at = dt.datetime.fromisoformat(entry["at"])
    assert at.utcoffset() == dt.timedelta(0)
    assert abs((dt.datetime.now(dt.UTC) - at).total_seconds()) < 600
    again = fresh.client.get(url, params={"since": entry["at"]}, headers=fresh.auth("reviewer"))
    assert [e["id"] for e in again.json()["entries"]] == [entry["id"]]


def test_removing_the_newest_entries_breaks_the_chain(fresh: Harness) -> None:
    """CONTRACT.md §4 ``audit verify``: the newest entries deleted leave every remaining link
    intact, but the log still counts the ids it handed out: the first removed one is named."""
    import sqlite3

    from cleanroom import audit
    from cleanroom.store import Store
    for sql in (GOOD, BAD, GOOD):
        fresh.query(sql)
    store = Store(fresh.data_dir)
    assert audit.verify(store) is None
    with sqlite3.connect(fresh.data_dir / "meta.sqlite") as con:
        (newest,) = con.execute("SELECT MAX(id) FROM audit").fetchone()
        con.execute("DELETE FROM audit WHERE id >= ?", (newest - 1,))
    assert audit.verify(store) == newest - 1
    with sqlite3.connect(fresh.data_dir / "meta.sqlite") as con:
        con.execute("DELETE FROM audit")
    assert audit.verify(store) == 1
