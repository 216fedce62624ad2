"""Schemas of exports: starting one (its kind, format and filters) and reading it (status, rows, its link)."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal, Optional, Union

from pydantic import Field, RootModel

from chalicelib.domain.exports import FORMATS, KINDS, STATUSES
from chalicelib.entrypoints.http.schemas.base import Day, Schema, Sku, Status, Strict
from chalicelib.entrypoints.http.schemas.products import CategoryKey


class DatedFilters(Strict):
    created_from: Optional[Day] = None
    created_to: Optional[Day] = Field(None, description="Inclusive. Before created_from the range is empty.")


class OrderFilters(DatedFilters):
    status: Optional[Status] = None


class ProductFilters(Strict):
    category: Optional[CategoryKey] = None
    active: Optional[bool] = None


class MovementFilters(DatedFilters):
    sku: Optional[Sku] = None


Format = Literal[FORMATS]  # type: ignore[valid-type]


class OrdersExportIn(Strict):
    kind: Literal["orders"]
    format: Format = "csv"
    filters: OrderFilters = Field(default_factory=OrderFilters)


class DatedExportIn(Strict):
    kind: Literal["payments", "customers", "sales"]
    format: Format = "csv"
    filters: DatedFilters = Field(default_factory=DatedFilters)


class ProductsExportIn(Strict):
    kind: Literal["products"]
    format: Format = "csv"
    filters: ProductFilters = Field(default_factory=ProductFilters)


class MovementsExportIn(Strict):
    kind: Literal["stock_movements"]
    format: Format = "csv"
    filters: MovementFilters = Field(default_factory=MovementFilters)


class StartExportIn(RootModel):
    """What to export: each kind takes its own filters (another one is an unknown field: 422)."""

    TAGGED_UNION: ClassVar[bool] = True  # errors name the field, not the member (routing._validate)

    root: Annotated[
        Union[OrdersExportIn, DatedExportIn, ProductsExportIn, MovementsExportIn], Field(discriminator="kind")
    ]


class ExportOut(Schema):
    export_id: str
    kind: Literal[KINDS]  # type: ignore[valid-type]
    format: Literal[FORMATS]  # type: ignore[valid-type]
    status: Literal[STATUSES]  # type: ignore[valid-type]
    filters: dict[str, object]
    rows: int = Field(description="Rows written (the header not counted); 0 until done.")
    created_at: str
    created_by: str
    updated_at: str
    finished_at: Optional[str]
    failure: Optional[str]
    download_url: Optional[str] = Field(None, description="Once done: a presigned GET of the file.")
    download_expires_at: Optional[str] = Field(None, description="When that link stops working (15 minutes).")
    filename: Optional[str] = None
