"""Money is an integer in the currency's minor unit; never a float."""

from __future__ import annotations

# ISO 4217 currencies without a minor unit (amounts are whole units).
ZERO_DECIMAL = frozenset({"JPY", "KRW", "VND", "CLP", "ISK", "UGX", "XAF", "XOF"})

MAX_AMOUNT = 10**12  # far above any real order; guards against overflow-like input


def minor_digits(currency: str) -> int:
    return 0 if currency.upper() in ZERO_DECIMAL else 2


def line_total(unit_price: int, quantity: int) -> int:
    if not isinstance(unit_price, int) or not isinstance(quantity, int):
        raise TypeError("money is integer minor units")
    return unit_price * quantity
