"""Policy files: the contract's example loads; every kind of bad file is refused at start-up
with a message naming the file and the key path."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from cleanroom.api import create_app
from cleanroom.errors import PolicyError
from cleanroom.policy import Kind, load_policies, parse_policy

EXAMPLE = Path(__file__).parent / "fixtures" / "policies" / "acme-streamco.yaml"


def example() -> dict:
    return yaml.safe_load(EXAMPLE.read_text())


def write(tmp_path: Path, doc: dict | str, name: str = "p.yaml") -> Path:
    text = doc if isinstance(doc, str) else yaml.safe_dump(doc, sort_keys=False)
    (tmp_path / name).write_text(text)
    return tmp_path


def test_contract_example_loads_into_frozen_models() -> None:
    policy = load_policies(EXAMPLE.parent)["acme-streamco"]
    assert policy.query_rules.min_users_per_row == 50
    assert policy.datasets["impressions"].columns["cost"].bounds == (0, 100)
    assert policy.datasets["conversions"].columns["order_id"].kind is Kind.BANNED
    assert policy.datasets["impressions"].user_key == "user_key"
    with pytest.raises(ValidationError):
        policy.query_rules.min_users_per_row = 1  # type: ignore[misc]


def test_shipped_policies_load() -> None:
    shipped = load_policies(Path(__file__).parents[1] / "policies")
    assert "acme-streamco" in shipped


def test_yaml_off_reads_as_off(tmp_path: Path) -> None:
    text = EXAMPLE.read_text().replace("differential_privacy: optional", "differential_privacy: off")
    policy = load_policies(write(tmp_path, text))["acme-streamco"]
    assert policy.privacy.differential_privacy == "off"


def _mutated(path: list[str], value: object) -> dict:
    doc = example()
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return doc


BAD = [
    (_mutated(["query_rules", "max_rows"], 5), "query_rules.max_rows: unknown key"),
    (_mutated(["datasets", "impressions", "columns", "cost", "kind"], "secret"),
     "datasets.impressions.columns.cost.kind"),
    (_mutated(["datasets", "impressions", "columns", "cost", "type"], "MONEY"),
     "datasets.impressions.columns.cost.type"),
    (_mutated(["datasets", "impressions", "columns", "cost"], {"kind": "metric", "type": "DOUBLE"}),
     "datasets.impressions.columns.cost: a metric needs bounds"),
    (_mutated(["datasets", "impressions", "provider"], "nobody"), "provider 'nobody' is not a party"),
    (_mutated(["parties"], [{"name": "acme", "roles": ["analyst", "provider"]},
                            {"name": "acme", "roles": ["provider"]}]), "duplicate party names"),
    (_mutated(["collaboration"], "Acme Streamco"), "collaboration"),
    (_mutated(["datasets", "conversions", "columns", "user_key"], {"kind": "dimension", "type": "VARCHAR"}),
     "exactly one user_key"),
    (_mutated(["privacy", "differential_privacy"], "sometimes"), "privacy.differential_privacy"),
    # [a-z0-9-]+ is the whole id: a regex "$" would also let in a final newline.
    (_mutated(["collaboration"], "acme-streamco\n"), "collaboration"),
    (_mutated(["parties"], [{"name": "acme\n", "roles": ["analyst", "provider"]}]), "party name"),
]


@pytest.mark.parametrize(("doc", "expected"), BAD, ids=[e for _, e in BAD])
def test_bad_policy_is_refused_naming_file_and_key(tmp_path: Path, doc: dict, expected: str) -> None:
    folder = write(tmp_path, doc, "broken.yaml")
    with pytest.raises(PolicyError) as err:
        load_policies(folder)
    assert "broken.yaml" in err.value.message
    assert expected in err.value.message


def test_duplicate_yaml_keys_are_refused(tmp_path: Path) -> None:
    text = EXAMPLE.read_text().replace("query_rules:\n", "query_rules:\n  min_users_per_row: 3\n")
    with pytest.raises(PolicyError, match="duplicate key 'min_users_per_row'"):
        parse_policy(text, source="dup.yaml")


def test_duplicate_collaboration_across_files(tmp_path: Path) -> None:
    write(tmp_path, example(), "a.yaml")
    write(tmp_path, example(), "b.yaml")
    with pytest.raises(PolicyError, match="defined twice"):
        load_policies(tmp_path)


def test_not_yaml(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="bad.yaml: not valid YAML"):
        load_policies(write(tmp_path, "a: [1, 2", "bad.yaml"))


def test_service_refuses_to_start_on_a_bad_policy(tmp_path: Path) -> None:
    folder = write(tmp_path / "pol" if (tmp_path / "pol").mkdir() is None else tmp_path,
                   _mutated(["query_rules", "min_users_per_row"], 1), "weak.yaml")
    with pytest.raises(PolicyError, match="weak.yaml: query_rules.min_users_per_row"):
        create_app(tmp_path / "data", folder)


def test_policy_lint_needs_no_server_and_exits_1_only_for_an_invalid_file(tmp_path: Path) -> None:
    """CONTRACT.md §4: ``cleanroom policy lint FILE...`` prints findings (weak or
    contradictory settings) and exits 1 when a file is invalid, 0 otherwise."""
    from typer.testing import CliRunner

    from cleanroom.cli import app
    for sub in ("good", "weak", "broken"):
        (tmp_path / sub).mkdir()
    good = write(tmp_path / "good", example(), "good.yaml") / "good.yaml"
    weak_doc = _mutated(["query_rules", "min_users_per_row"], 3)
    weak_doc["privacy"]["max_epsilon_per_query"] = 50.0
    weak = write(tmp_path / "weak", weak_doc, "weak.yaml") / "weak.yaml"
    broken = write(tmp_path / "broken", _mutated(["query_rules", "max_rows"], 5),
                   "broken.yaml") / "broken.yaml"
    runner = CliRunner()
    fine = runner.invoke(app, ["policy", "lint", str(good), str(weak)])
    assert fine.exit_code == 0, fine.output
    assert "low_threshold" in fine.stdout and "epsilon_over_budget" in fine.stdout
    assert "query_rules.min_users_per_row" in fine.stdout and str(weak) in fine.stdout
    bad = runner.invoke(app, ["policy", "lint", str(good), str(broken)])
    assert bad.exit_code == 1 and "broken.yaml" in bad.stderr and "max_rows" in bad.stderr


def test_a_file_edited_on_disk_is_the_next_version_at_start_up(tmp_path: Path) -> None:
    """CONTRACT.md §4: the files are each collaboration's first version; a file edited on disk
    is taken at the next start-up as a new version by the operator (audited), and every
    answer and audit entry names the version it was decided under."""
    from cleanroom import audit
    from cleanroom.store import Store
    from tests.conftest import COLLAB, POLICIES, make_client
    folder = tmp_path / "policies"
    folder.mkdir()
    original = (POLICIES / f"{COLLAB}.yaml").read_text()
    (folder / f"{COLLAB}.yaml").write_text(original)
    data = tmp_path / "data"

    def version_after_start() -> tuple[int, dict]:
        h = make_client(data, policies=folder)
        h.query("SELECT 1")
        described = h.client.get(f"/v1/collaborations/{COLLAB}", headers=h.auth("acme")).json()
        log = h.client.get(f"/v1/collaborations/{COLLAB}/audit", headers=h.auth("reviewer"))
        return described["policy_version"], log.json()

    assert version_after_start()[0] == 1
    (folder / f"{COLLAB}.yaml").write_text("# only a comment changed\n" + original)
    assert version_after_start()[0] == 1
    (folder / f"{COLLAB}.yaml").write_text(original.replace("min_users_per_row: 50",
                                                            "min_users_per_row: 60"))
    version, log = version_after_start()
    assert version == 2 and log["policy_version"] == 2
    newest, adopted = log["entries"][0], log["entries"][1]
    assert newest["action"] == "query" and newest["policy_version"] == 2
    assert adopted["action"] == "policy" and adopted["party"] == "operator"
    assert adopted["detail"]["version"] == 2 and adopted["policy_version"] == 2
    assert {e["policy_version"] for e in log["entries"][2:]} == {1}
    assert audit.verify(Store(data)) is None
