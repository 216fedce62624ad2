"""The fulfilment-updates message, checked: anything else is refused (and, after retries, dead-lettered)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from chalicelib.domain.fulfilment import FulfilmentUpdate

Id = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,128}$")]
Short = Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]
MAX_BYTES = 16 * 1024


class FulfilmentUpdateIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    update_id: Id
    order_id: Id
    event: Literal["picked", "packed", "shipped", "delivered", "returned"]
    carrier: Optional[Short] = None
    tracking_number: Optional[Short] = None
    occurred_at: str = Field(description="ISO 8601 with a time zone, e.g. 2026-11-26T08:00:00Z")

    @field_validator("occurred_at")
    @classmethod
    def _iso(cls, value: str) -> str:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            raise ValueError("occurred_at needs a time zone")
        return value


class InvalidMessage(ValueError):
    pass


def parse_update(body: str) -> FulfilmentUpdate:
    if len(body.encode("utf-8", "replace")) > MAX_BYTES:
        raise InvalidMessage("message too large")
    try:
        raw = json.loads(body)
        json.dumps(raw, ensure_ascii=False).encode("utf-8")  # a lone surrogate (\ud800) can be stored nowhere
        checked = FulfilmentUpdateIn.model_validate(raw)
    except RecursionError:
        raise InvalidMessage("not a fulfilment update: nested too deeply") from None
    except ValueError as error:  # JSON, encoding and pydantic errors alike
        raise InvalidMessage(f"not a fulfilment update: {str(error)[:300]}") from None
    return FulfilmentUpdate(**checked.model_dump())
