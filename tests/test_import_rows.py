"""An import's rows read alone (chalicelib/domain/import_rows.py, imports.py): pure, no AWS."""

from __future__ import annotations

from datetime import datetime
from itertools import count

import pytest

from chalicelib.domain.import_rows import PRODUCT_COLUMNS as COLUMNS
from chalicelib.domain.import_rows import Formula, column_letter, parse_options, read_cell
from chalicelib.domain.imports import FileRefused, read_rows

BY_NAME = {column.name: column for column in COLUMNS}


def test_reading_stops_at_the_first_row_past_the_limit():
    taken = count()

    def endless():
        yield 1, ["sku", "price"]
        for n in range(2, 10**6):
            next(taken)
            yield n, [f"S-{n}", 100]

    with pytest.raises(FileRefused, match="more than 10,000 rows"):
        read_rows("products", endless(), "CNY")
    assert next(taken) == 10_001  # 10,001 data rows were read, and not one more


@pytest.mark.parametrize(
    ("column", "cell", "value"),
    [
        ("sku", 12345.0, "12345"),
        ("sku", " A-1 ", "A-1"),
        ("price", "1299", 1299),
        ("price", 1299.0, 1299),
        ("price", "1299.00", 1299),
        ("active", "YES", True),
        ("active", 0, False),
        ("active", "否", False),
        ("stock", " 7 ", 7),
        ("name", "  ", None),
        ("name", None, None),
    ],
)
def test_cells_read_as_spreadsheets_hold_them(column, cell, value):
    assert read_cell(BY_NAME[column], cell, "CNY") == value


@pytest.mark.parametrize(
    ("column", "cell", "currency", "message"),
    [
        ("price", 12.5, "CNY", "price must be a whole number of fen (12.50 CNY is 1250), not 12.5"),
        ("price", 12.5, "USD", "price must be a whole number of cents (12.50 USD is 1250), not 12.5"),
        ("price", "12.5", "JPY", "price must be a whole number of yen, not 12.5"),
        ("price", "1,299", "CNY", "price must be a whole number of fen (12.99 CNY is 1299), not '1,299'"),
        ("price", 10**13, "CNY", "price must be at most 1,000,000,000,000"),
        ("stock", datetime(2026, 3, 1), "CNY", "stock is a date or time here; it must be a whole number"),
        ("active", "maybe", "CNY", "active must be true or false (yes/no, 1/0 also work)"),
        (
            "price",
            Formula("=A1*2"),
            "CNY",
            "cells must hold values, not formulas (copy the column and paste it as values)",
        ),
    ],
)
def test_bad_cells_say_why_in_the_shops_words(column, cell, currency, message):
    from chalicelib.domain.import_rows import CellError

    with pytest.raises(CellError) as refused:
        read_cell(BY_NAME[column], cell, currency)
    assert str(refused.value) == message


def test_options_are_name_value_pairs():
    assert parse_options("size=M; colour=白色;") == {"size": "M", "colour": "白色"}
    assert parse_options("size＝L；fit=slim") == {"size": "L", "fit": "slim"}
    for bad in ("size", "=M", "size=M; size=L", "; ".join(f"o{n}=v" for n in range(11))):
        with pytest.raises(ValueError):
            parse_options(bad)


def test_columns_are_named_as_spreadsheets_name_them():
    assert [column_letter(n) for n in (0, 25, 26, 29)] == ["A", "Z", "AA", "AD"]


def test_a_header_only_or_empty_file_is_refused():
    with pytest.raises(FileRefused, match="empty"):
        read_rows("products", iter([(1, [None, ""]), (2, [])]), "CNY")
    with pytest.raises(FileRefused, match="no rows to import"):
        read_rows("products", iter([(1, ["sku", "price"]), (2, [None])]), "CNY")
