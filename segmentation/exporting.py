"""Scores as a spreadsheet-safe table (the customers app's CSV/XLSX writers do the rest)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from accounts.models import Business
from customers.exporting import Column, ExportTable

from .models import CustomerScore

# The column names are part of the contract with owners' spreadsheets: not translated.
SCORE_COLUMNS = (
    Column("customer_no", "customer_no"),
    Column("phone", "phone", "phone"),
    Column("name", "name"),
    Column("recency_days", "recency_days", "number"),
    Column("frequency", "frequency", "number"),
    Column("monetary", "monetary", "number"),
    Column("rfm_segment", "rfm_segment"),
    Column("p_alive", "p_alive", "number"),
    Column("churn_risk", "churn_risk", "number"),
    Column("expected_purchases_90d", "expected_purchases_90d", "number"),
    Column("predicted_clv", "predicted_clv", "number"),
    Column("net_value", "net_value", "number"),
    Column("value_tier", "value_tier"),
    Column("loyalty_score", "loyalty_score", "number"),
    Column("action", "action"),
)
_CUSTOMER_FIELDS = {"customer_no", "phone", "name"}


def score_table(business: Business) -> ExportTable:
    scores = (
        CustomerScore.objects.for_business(business)
        .select_related("customer")
        .order_by("customer_id")
    )

    def rows() -> Iterator[list[Any]]:
        for score in scores.iterator(chunk_size=2000):
            yield [
                getattr(score.customer if c.key in _CUSTOMER_FIELDS else score, c.key)
                for c in SCORE_COLUMNS
            ]

    return ExportTable(title="scores", columns=SCORE_COLUMNS, rows=rows())
