"""HTTP routes for attribution and the built-in analytics (CONTRACT.md §3).

``create_app`` includes ``router``; each endpoint finds the service on ``request.app.state``.

- ``POST /v1/collaborations/{c}/attribution``: body ``{"model", "touchpoints", "conversions",
  "lookback_days", "dimension", "epsilon"?, "revenue"?, "options"?: {"half_life_days", "order"}}``
- ``GET /v1/collaborations/{c}/analytics``: the analytics and their options
- ``POST /v1/collaborations/{c}/analytics/{name}``: the analytic's options as a JSON object
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from pydantic import BaseModel, ConfigDict, Field

from cleanroom import analytics
from cleanroom.answers import AnalyticsAnswer, AnalyticsList, AttributionAnswer
from cleanroom.api import Who
from cleanroom.attribution_service import AttributionRequest, attribute
from cleanroom.openapi import AUTH, question_responses, refusals
from cleanroom.pipeline import Service, authorize

router = APIRouter()


class ModelOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    half_life_days: float = Field(default=7.0, gt=0, le=3660, strict=True)
    order: int = Field(default=1, ge=1, le=4)


class AttributionBody(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"model": "last_touch", "touchpoints": "impressions", "conversions": "conversions",
         "dimension": "channel", "lookback_days": 30}]})
    model: str = Field(max_length=100)
    touchpoints: str = Field(max_length=200)
    conversions: str = Field(max_length=200)
    dimension: str = Field(max_length=200)
    lookback_days: float = Field(strict=True)  # a JSON number: true and "30" are refused
    epsilon: float | None = Field(default=None, gt=0, strict=True)
    revenue: str | None = Field(default=None, max_length=200)
    options: ModelOptions = ModelOptions()

    def request(self) -> AttributionRequest:
        return AttributionRequest(self.model, self.touchpoints, self.conversions, self.dimension,
                                  self.lookback_days, epsilon=self.epsilon, revenue=self.revenue,
                                  half_life_days=self.options.half_life_days,
                                  order=self.options.order)


def _service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


@router.post("/v1/collaborations/{c}/attribution", response_model=AttributionAnswer,
             tags=["questions"], responses=question_responses())
def attribution(c: str, body: AttributionBody, request: Request, who: Who) -> AttributionAnswer:
    """Credit conversions and revenue to the values of a touchpoint dimension (analysts)."""
    return attribute(_service(request), who, c, body.request())


@router.get("/v1/collaborations/{c}/analytics", response_model=AnalyticsList,
            tags=["questions"], responses=refusals(*AUTH))
def list_analytics(c: str, request: Request, who: Who) -> AnalyticsList:
    """The built-in analytics and their options (analysts)."""
    authorize(_service(request), who, c, "analyst")
    return AnalyticsList(analytics=analytics.describe())


@router.post("/v1/collaborations/{c}/analytics/{name}", response_model=AnalyticsAnswer,
             tags=["questions"], responses=question_responses())
def run_analytic(c: str, name: str, request: Request, who: Who,
                 body: Annotated[Any, Body(examples=[{"a": "impressions", "b": "conversions"}])]
                 = None) -> AnalyticsAnswer:
    """Run the analytic NAME with its options as a JSON object (analysts)."""
    return analytics.run_analytic(_service(request), who, c, name, {} if body is None else body)
