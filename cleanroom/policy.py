"""Collaboration policies: load and validate ``policies/*.yaml`` into frozen models.

A bad file is refused with a message naming the file and the key path::

    policies/acme.yaml: datasets.impressions.columns.cost: a metric needs bounds [low, high]
"""

from __future__ import annotations

import re
from enum import Enum
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from cleanroom.errors import PolicyError

NAME = re.compile(r"[a-z0-9-]+")  # fullmatch: "$" would let a final newline in
IDENT = re.compile(r"[a-z_][a-z0-9_]*")
USER_KEY_TYPE = "VARCHAR"


class Kind(str, Enum):
    USER_KEY = "user_key"
    DIMENSION = "dimension"
    METRIC = "metric"
    BANNED = "banned"


ColumnType = Literal["VARCHAR", "TIMESTAMP", "DATE", "INTEGER", "BIGINT", "DOUBLE", "BOOLEAN"]
NUMERIC_TYPES = frozenset({"INTEGER", "BIGINT", "DOUBLE"})
WHOLE_TYPES = frozenset({"INTEGER", "BIGINT"})  # stored whole (uploads are cast to the type)


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Column(Frozen):
    kind: Kind
    type: ColumnType | None = None
    bounds: tuple[float, float] | None = None

    @model_validator(mode="after")
    def _check(self) -> Column:
        if self.kind is Kind.USER_KEY:
            if self.type not in (None, USER_KEY_TYPE):
                raise ValueError("a user_key is always VARCHAR (64 lower-case hex)")
            if self.bounds is not None:
                raise ValueError("a user_key has no bounds")
            return self
        if self.type is None:
            raise ValueError(f"a {self.kind.value} column needs a type")
        if self.kind is Kind.METRIC:
            if self.type not in NUMERIC_TYPES:
                raise ValueError("a metric must be numeric (INTEGER, BIGINT or DOUBLE)")
            if self.bounds is None:
                raise ValueError("a metric needs bounds [low, high]")
            if not self.bounds[0] < self.bounds[1]:
                raise ValueError("a metric's bounds must be [low, high] with low < high")
        elif self.bounds is not None:
            raise ValueError("only metrics have bounds")
        return self

    @property
    def sql_type(self) -> str:
        return self.type or USER_KEY_TYPE


class Dataset(Frozen):
    provider: str
    columns: dict[str, Column]

    @field_validator("columns")
    @classmethod
    def _columns(cls, columns: dict[str, Column]) -> dict[str, Column]:
        for name in columns:
            if not IDENT.fullmatch(name) or name.startswith("__"):
                raise ValueError(f"column name {name!r} must match [a-z_][a-z0-9_]*")
        keys = [n for n, c in columns.items() if c.kind is Kind.USER_KEY]
        if len(keys) != 1:
            raise ValueError("a dataset needs exactly one user_key column")
        return columns

    @property
    def user_key(self) -> str:
        return next(n for n, c in self.columns.items() if c.kind is Kind.USER_KEY)


class Party(Frozen):
    name: str
    roles: tuple[Literal["analyst", "provider", "compliance"], ...]

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        if not NAME.fullmatch(name):
            raise ValueError("a party name must match [a-z0-9-]+")
        return name


class QueryRules(Frozen):
    min_users_per_row: int = Field(ge=2)
    # Contribution bound for differential privacy: groups one user may appear in.
    max_groups_per_user: int = Field(default=8, ge=1, le=1000)
    # And rows one user may add within one group (COUNT(*) counts rows, SUM adds them all).
    max_rows_per_user_group: int = Field(default=10, ge=1, le=1000)


class Privacy(Frozen):
    differential_privacy: Literal["off", "optional", "required"] = "off"
    max_epsilon_per_query: float = Field(default=1.0, gt=0)
    epsilon_budget: float = Field(default=10.0, gt=0)
    delta: float = Field(default=1e-6, gt=0, lt=1)

    @field_validator("differential_privacy", mode="before")
    @classmethod
    def _yaml_off(cls, value: Any) -> Any:
        # YAML 1.1 reads a bare `off` as boolean false.
        return "off" if value is False else value


class Policy(Frozen):
    collaboration: str
    parties: tuple[Party, ...]
    datasets: dict[str, Dataset]
    query_rules: QueryRules
    privacy: Privacy = Privacy()

    @field_validator("collaboration")
    @classmethod
    def _collab(cls, name: str) -> str:
        if not NAME.fullmatch(name):
            raise ValueError("a collaboration id must match [a-z0-9-]+")
        return name

    @field_validator("datasets")
    @classmethod
    def _dataset_names(cls, datasets: dict[str, Dataset]) -> dict[str, Dataset]:
        for name in datasets:
            if not IDENT.fullmatch(name):
                raise ValueError(f"dataset name {name!r} must match [a-z_][a-z0-9_]*")
        return datasets

    @model_validator(mode="after")
    def _cross(self) -> Policy:
        names = [p.name for p in self.parties]
        if len(set(names)) != len(names):
            raise ValueError("duplicate party names")
        for ds_name, ds in self.datasets.items():
            party = self.party(ds.provider)
            if party is None:
                raise ValueError(f"dataset {ds_name}: provider {ds.provider!r} is not a party")
            if "provider" not in party.roles:
                raise ValueError(f"dataset {ds_name}: party {ds.provider!r} lacks the provider role")
        return self

    def party(self, name: str) -> Party | None:
        return next((p for p in self.parties if p.name == name), None)

    def has_role(self, party: str, role: str) -> bool:
        found = self.party(party)
        return found is not None and role in found.roles


def _where(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def parse_policy(text: str, *, source: str) -> Policy:
    """Parse one policy document; errors name ``source`` and the key path."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise PolicyError(message=f"{source}: not valid YAML{where}") from None
    if not isinstance(raw, dict):
        raise PolicyError(message=f"{source}: a policy must be a mapping")
    _reject_duplicate_keys(text, source)
    try:
        return Policy.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        msg = str(first["msg"]).removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            msg = "unknown key"
        raise PolicyError(message=f"{source}: {_where(first['loc'])}: {msg}") from None


class _UniqueKeyLoader(yaml.SafeLoader):
    pass


def _construct_unique(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise PolicyError(message=f"duplicate key {key!r} at line {key_node.start_mark.line + 1}")
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique)


def _reject_duplicate_keys(text: str, source: str) -> None:
    try:
        yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - SafeLoader subclass
    except PolicyError as exc:
        raise PolicyError(message=f"{source}: {exc.message}") from None


def load_policies(directory: Path | str) -> dict[str, Policy]:
    """Load every ``*.yaml`` / ``*.yml`` in ``directory``; refuse duplicates and bad files."""
    folder = Path(directory)
    if not folder.is_dir():
        raise PolicyError(message=f"{folder}: not a directory of policies")
    policies: dict[str, Policy] = {}
    for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
        policy = parse_policy(path.read_text(encoding="utf-8"), source=str(path))
        if policy.collaboration in policies:
            raise PolicyError(message=f"{path}: collaboration {policy.collaboration!r} is defined twice")
        policies[policy.collaboration] = policy
    return policies
