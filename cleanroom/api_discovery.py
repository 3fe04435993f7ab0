"""``GET /v1/collaborations/{c}``: the collaboration as every one of its parties may see it
(CONTRACT.md §4). ``create_app`` includes ``router``."""

from __future__ import annotations

from fastapi import APIRouter, Request

from cleanroom.api import Who
from cleanroom.discovery import CollaborationAnswer, describe_collaboration
from cleanroom.errors import NotFound
from cleanroom.openapi import AUTH, refusals
from cleanroom.pipeline import Service
from cleanroom.policy import Policy
from cleanroom.store import Identity

router = APIRouter()


def _party_of(service: Service, who: Identity, collaboration: str) -> Policy:
    """Every party of the collaboration, whatever its roles; another collaboration's party
    learns only that there is nothing for it here (as ``pipeline.authorize``)."""
    policy = service.policies.get(collaboration)
    if policy is None or who.collaboration != collaboration or policy.party(who.party) is None:
        raise NotFound()
    return policy


@router.get("/v1/collaborations/{c}", response_model=CollaborationAnswer, tags=["datasets"],
            responses=refusals(*AUTH))
def collaboration(c: str, request: Request, who: Who) -> CollaborationAnswer:
    """The collaboration as its parties see it: parties, datasets (provider, columns with kind
    and type, current version and rows), query rules and privacy settings."""
    service: Service = request.app.state.service
    policy = _party_of(service, who, c)
    return describe_collaboration(policy, service.store.current(c), party=who.party,
                                  version=service.version_of(c))
