"""The building blocks of every schema: text that is really text, patterns published as they are checked,
the shared field types and the base classes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints
from pydantic_core import PydanticCustomError, core_schema

from chalicelib.domain.catalogue import SORTS
from chalicelib.domain.lifecycle import FULFILMENT_STATUSES, PAYMENT_STATUSES, STATUSES
from chalicelib.domain.orders import CHANNELS, MAX_ORDER_LINES
from chalicelib.domain.payments import METHODS

PATTERN_MISMATCH = "pattern_mismatch"  # the error type of a failed ``Pattern``; its message is the field's sentence


@dataclass(frozen=True)
class Pattern:
    """A string must match ``pattern`` whole; published as the schema's ``pattern``, refused with ``sentence``."""

    pattern: str
    sentence: str

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> core_schema.CoreSchema:
        compiled, sentence = re.compile(self.pattern), self.sentence

        def check(value: str) -> str:
            if compiled.fullmatch(value) is None:  # fullmatch: Python's ``$`` would also match before a final \n
                raise PydanticCustomError(PATTERN_MISMATCH, sentence)
            return value

        return core_schema.no_info_after_validator_function(check, handler(source))

    def __get_pydantic_json_schema__(self, schema: core_schema.CoreSchema, handler: Any) -> dict[str, Any]:
        return {**handler(schema), "pattern": self.pattern}


# Text in any script. Refused: C0 and C1 control characters but tab, line feed and carriage return, and the
# bidirectional overrides and isolates that make text display other than it reads. Everything else is welcome
# (zero-width joiners in emoji, soft hyphens, characters newer than our tables). Lone surrogates are not text
# at all: pydantic refuses them in every string (``string_unicode``), so the pattern need not (and, for
# validators built on Rust's regex, could not) name them.
_REFUSED = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069"


_SPACE = r"\t\n\r \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"  # the rest of what str.strip() strips


CHAR = f"[^{_REFUSED}]"


VISIBLE = f"[^{_REFUSED}{_SPACE}]"


TEXT = Pattern(
    f"^{CHAR}*{VISIBLE}{CHAR}*$",
    "must contain a visible character, and no control characters or bidirectional overrides",
)


BLANK_OR_TEXT = Pattern(f"^{CHAR}*$", "must not contain control characters or bidirectional overrides")


def _strip(value: str) -> str:
    return value.strip()


def Text(max_length: int, min_length: int = 1) -> Any:
    """Text of at most ``max_length`` characters as sent; ``min_length=0`` allows blank. Stripped once valid."""
    return Annotated[
        str,
        StringConstraints(min_length=min_length, max_length=max_length),
        TEXT if min_length else BLANK_OR_TEXT,
        AfterValidator(_strip),
    ]


def _whole(value: Any) -> Any:
    """JSON has one number type: ``2.0`` is the integer 2, as JSON Schema says; ``2.5`` is still refused."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


WholeNumber = BeforeValidator(_whole)


Sku = Annotated[
    str,
    Pattern(
        r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
        "must be 1 to 64 letters (A-Z, a-z), digits, '.', '_' or '-', starting with a letter or digit",
    ),
]


Phone = Annotated[
    str,
    Pattern(
        r"^\+?[0-9][0-9 ()-]{4,31}$",
        "must be a phone number: an optional '+', then 5 to 32 digits, spaces, '(', ')' or '-', starting with a digit",
    ),
]


PostalCode = Annotated[
    str, Pattern(r"^[A-Za-z0-9 -]{1,20}$", "must be 1 to 20 letters (A-Z, a-z), digits, spaces or '-'")
]


Country = Annotated[str, Pattern(r"^[A-Z]{2}$", "must be a two-letter ISO 3166-1 country code in capitals, e.g. CN")]


CustomerId = Annotated[
    str, Pattern(r"^[A-Za-z0-9_-]{1,128}$", "must be 1 to 128 letters (A-Z, a-z), digits, '_' or '-'")
]


Limit = Annotated[int, Field(ge=1, le=100, description="Page size, 1..100.")]


OrderNumber = Annotated[str, Pattern(r"^[0-9]{8}-[0-9]{6,9}$", "must be an order number, e.g. 20261123-000042")]


PaymentReference = Annotated[
    str,
    Pattern(
        r"^(pi_[A-Za-z0-9]{1,250}|PAY-[0-9]{8}-[0-9]{6,9}|RF-[0-9]{8}-[0-9]{6,9}-[0-9]{1,4})$",
        "must be a PaymentIntent id (pi_...) or an offline reference code (PAY-... or RF-...)",
    ),
]


Day = Annotated[
    str,
    Pattern(r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$", "must be a date, YYYY-MM-DD"),
    Field(description="An ISO date (UTC), inclusive; compared as text, so 2026-02-30 bounds like the end of February."),
]


Cursor = Annotated[
    str,
    StringConstraints(min_length=1, max_length=2048),
    Field(description="Opaque: the next_cursor of the previous page of this same listing."),
]


Amount = Annotated[int, Field(ge=0, description="Integer in the currency's minor unit.")]


MAX_AMOUNT = 10**12


PriceBound = Annotated[int, Field(ge=0, le=MAX_AMOUNT, description="Integer in the currency's minor unit.")]


Status = Literal[STATUSES]  # type: ignore[valid-type]


PaymentStatus = Literal[PAYMENT_STATUSES]  # type: ignore[valid-type]


FulfilmentStatus = Literal[FULFILMENT_STATUSES]  # type: ignore[valid-type]


Channel = Literal[CHANNELS]  # type: ignore[valid-type]


Sort = Literal[SORTS]  # type: ignore[valid-type]


Method = Literal[METHODS]  # type: ignore[valid-type]


MAX_LINES = MAX_ORDER_LINES


MAX_QUANTITY = 999


class Schema(BaseModel):
    """Every schema's base: each one is built on first use (a cold start builds only what its requests need)."""

    model_config = ConfigDict(defer_build=True)


class Strict(Schema):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
