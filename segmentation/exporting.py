"""Scores as a spreadsheet-safe table (the customers app's CSV/XLSX writers do the rest)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from accounts.models import Business
from customers.exporting import Column, ExportTable

from .models import CustomerScore
from .wording import churn_phrase, plain_explanation

# The column names are part of the contract with owners' spreadsheets: not translated.
# churn_risk is the chance of no purchase in the churn window (90 days by default) since
# 2026-12 (it was 1 - P(alive)); churn_words and explanation carry the owner's wording.
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
    Column("churn_words", "churn_words"),
    Column("expected_purchases_90d", "expected_purchases_90d", "number"),
    Column("predicted_clv", "predicted_clv", "number"),
    Column("net_value", "net_value", "number"),
    Column("value_tier", "value_tier"),
    Column("loyalty_score", "loyalty_score", "number"),
    Column("action", "action"),
    Column("value_at_stake", "value_at_stake", "number"),
    Column("explanation", "explanation"),
)
_CUSTOMER_FIELDS = {"customer_no", "phone", "name"}


def score_table(business: Business) -> ExportTable:
    scores = (
        CustomerScore.objects.for_business(business)
        .select_related("customer")
        .order_by("customer_id")
    )

    def value(score: CustomerScore, key: str) -> Any:
        if key == "churn_words":
            return churn_phrase(score)
        if key == "explanation":
            return plain_explanation(score, business)
        return getattr(score.customer if key in _CUSTOMER_FIELDS else score, key)

    def rows() -> Iterator[list[Any]]:
        for score in scores.iterator(chunk_size=2000):
            yield [value(score, c.key) for c in SCORE_COLUMNS]

    return ExportTable(title="scores", columns=SCORE_COLUMNS, rows=rows())
