"""Scoring: read a business's history, run the maths, write every score in one transaction."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Business
from feedback.selectors import satisfaction_by_customer

from . import maths
from .models import CustomerScore, ScoringRun, Segment
from .selectors import ScoringInputs, cutoff, scoring_inputs

logger = logging.getLogger(__name__)
CENT = Decimal("0.01")


def pooled_fallback(*, exclude: Business | None = None) -> tuple[maths.BGNBDParams, str]:
    """Parameters for a business too small to fit: the median of other businesses' latest
    successful fits, or the documented prior (the CDNOW fit) when there are none."""
    latest: dict[int, dict] = {}
    runs = ScoringRun.objects.filter(
        status=ScoringRun.Status.SUCCEEDED, parameters__bgnbd_fitted=True
    ).order_by("business_id", "-started_at")
    if exclude is not None:
        runs = runs.exclude(business=exclude)
    for run in runs.only("business_id", "parameters")[:1000]:
        latest.setdefault(run.business_id, run.parameters["bgnbd"])
    if len(latest) >= 2:
        rows = np.array([[p["r"], p["alpha"], p["a"], p["b"]] for p in latest.values()])
        r, alpha, a, b = np.median(rows, axis=0)
        return maths.BGNBDParams(float(r), float(alpha), float(a), float(b)), "pooled"
    return maths.DEFAULT_PRIOR, "prior"


def _satisfaction(business: Business, as_of: date, customer_ids: np.ndarray) -> np.ndarray:
    """Per-customer satisfaction 0–1 from feedback up to `as_of` (NaN: no feedback yet,
    neutral in the loyalty score)."""
    out = np.full(customer_ids.size, np.nan)
    by_customer = satisfaction_by_customer(business, cutoff(business, as_of))
    if by_customer:
        ids = np.fromiter(by_customer.keys(), dtype=np.int64)
        values = np.fromiter(by_customer.values(), dtype=np.float64)
        pos = np.searchsorted(customer_ids, ids)
        found = (pos < customer_ids.size) & (
            customer_ids[np.minimum(pos, customer_ids.size - 1)] == ids
        )
        out[pos[found]] = values[found]
    return out


def _money(values: np.ndarray) -> list[Decimal]:
    return [Decimal(f"{v:.2f}") for v in np.round(values, 2)]


def _float(values: np.ndarray, digits: int = 6) -> list[float]:
    return [float(v) for v in np.round(values, digits)]


def score_compute(
    *, business: Business, as_of: date, expected_window_days: float = 90.0
) -> tuple[ScoringInputs, np.ndarray, maths.PopulationScores, str]:
    """Run the maths for one business as of one day, writing nothing."""
    inputs = scoring_inputs(business, as_of)
    satisfaction = _satisfaction(business, as_of, inputs.customer_ids)
    fallback, fallback_source = pooled_fallback(exclude=business)
    result = maths.score_population(
        inputs.customer_idx,
        inputs.day,
        inputs.amount,
        inputs.margin,
        n_customers=inputs.customer_ids.size,
        as_of=inputs.as_of_day,
        cost_to_serve=inputs.cost_to_serve,
        satisfaction=satisfaction,
        horizon_months=settings.XW_SCORING["horizon_months"],
        discount_rate_annual=settings.XW_SCORING["discount_rate_annual"],
        default_margin_rate=float(business.default_margin_pct) / 100.0,
        loyalty_weights=settings.XW_SCORING["loyalty_weights"],
        fallback_bgnbd=fallback,
        min_repeat_customers=settings.XW_SCORING["min_repeat_customers"],
        expected_window_days=expected_window_days,
    )
    return inputs, satisfaction, result, fallback_source


@transaction.atomic
def scoring_run_queue(*, business: Business, trigger: str) -> tuple[ScoringRun, bool]:
    """A run waiting for a worker: (the run, whether this call created it). While one is
    queued for the business, asking again returns it instead of queuing a second run."""
    Business.objects.select_for_update().filter(pk=business.pk).first()
    now = timezone.now()
    # A run queued longer than a task may take was lost (worker down): it never ran.
    ScoringRun.objects.filter(
        business=business,
        status=ScoringRun.Status.QUEUED,
        started_at__lt=now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT),
    ).update(status=ScoringRun.Status.FAILED, error="never started", finished_at=now)
    pending = ScoringRun.objects.filter(business=business, status=ScoringRun.Status.QUEUED)
    run = pending.order_by("id").first()
    if run is not None:
        return run, False
    as_of = timezone.localdate(timezone=business.zone)
    run = ScoringRun.objects.create(
        business=business,
        as_of=as_of,
        trigger=trigger,
        status=ScoringRun.Status.QUEUED,
        started_at=now,
    )
    return run, True


def _zone_warnings(business: Business) -> list[str]:
    if business.time_zone_is_valid:
        return []
    return [
        f"The business's time zone {business.time_zone!r} is not a valid zone name; days were "
        f"counted in {settings.TIME_ZONE}. Choose the right zone in the business settings."
    ]


def scoring_run_execute(
    *,
    business: Business,
    as_of: date | None = None,
    trigger: str = ScoringRun.Trigger.COMMAND,
    queued_run_id: int | None = None,
) -> ScoringRun:
    """Score every customer of `business` as of `as_of` (default: today, local time).
    `queued_run_id` (from scoring_run_queue) is the run record to fill in, if still queued.

    Idempotent: the same as-of date gives identical score rows. The write is one
    transaction: a run that dies midway leaves the previous scores intact.
    """
    as_of = as_of or timezone.localdate(timezone=business.zone)
    started = time.perf_counter()
    # A run whose worker died never finished: say so, rather than leave it "running".
    ScoringRun.objects.filter(
        business=business,
        status=ScoringRun.Status.RUNNING,
        started_at__lt=timezone.now() - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT),
    ).update(status=ScoringRun.Status.FAILED, error="interrupted")
    taken = queued_run_id is not None and ScoringRun.objects.filter(
        pk=queued_run_id, business=business, status=ScoringRun.Status.QUEUED
    ).update(status=ScoringRun.Status.RUNNING, as_of=as_of, started_at=timezone.now())
    if taken:
        run = ScoringRun.objects.get(pk=queued_run_id)
    else:
        run = ScoringRun.objects.create(
            business=business, as_of=as_of, trigger=trigger, started_at=timezone.now()
        )
    try:
        inputs, satisfaction, result, fallback_source = score_compute(
            business=business, as_of=as_of
        )
        columns = _score_columns(business, run, as_of, inputs, satisfaction, result)
        with transaction.atomic():
            # Lock the business row: two runs of one business write one after the other.
            Business.objects.select_for_update().filter(pk=business.pk).first()
            written = _scores_replace(business, columns)
            run.status = ScoringRun.Status.SUCCEEDED
            run.customers_scored = written
            run.parameters = _parameters(result, fallback_source)
            run.warnings = [*result.warnings, *_zone_warnings(business)]
            run.finished_at = timezone.now()
            run.duration_s = round(time.perf_counter() - started, 3)
            run.save()
    except Exception as exc:
        logger.exception("Scoring %s as of %s failed", business.slug, as_of)
        ScoringRun.objects.filter(pk=run.pk).update(
            status=ScoringRun.Status.FAILED,
            error=f"{type(exc).__name__}: {exc}",
            finished_at=timezone.now(),
            duration_s=round(time.perf_counter() - started, 3),
        )
        raise
    return run


def _parameters(result: maths.PopulationScores, fallback_source: str) -> dict:
    bg, gg = result.bgnbd_params, result.gg_params
    return {
        "bgnbd": {"r": bg.r, "alpha": bg.alpha, "a": bg.a, "b": bg.b, "time_unit": "weeks"},
        "bgnbd_fitted": result.bgnbd_fitted,
        "bgnbd_source": "fitted" if result.bgnbd_fitted else fallback_source,
        "bgnbd_log_likelihood": (
            result.bgnbd_fit.log_likelihood if result.bgnbd_fit is not None else None
        ),
        "gamma_gamma": {"p": gg.p, "q": gg.q, "v": gg.v},
        "gamma_gamma_fitted": result.gg_fitted,
        "customers": result.n_customers,
        "customers_with_purchases": result.n_with_purchases,
        "repeat_customers": result.n_repeat_customers,
        "settings": {k: v for k, v in settings.XW_SCORING.items()},
    }


def _score_columns(business, run, as_of, inputs, satisfaction, result) -> dict[str, list]:
    """Score rows column by column, as plain Python values ready for the database."""
    a = result.arrays()
    n = inputs.customer_ids.size
    columns: dict[str, list] = {
        "business_id": [business.pk] * n,
        "customer_id": inputs.customer_ids.tolist(),
        "run_id": [run.pk] * n,
        "as_of": [as_of] * n,
        "cost_to_serve": _money(inputs.cost_to_serve),
        "satisfaction": [None if np.isnan(v) else round(float(v), 4) for v in satisfaction],
        "p_alive": _float(a["p_alive"]),
        "churn_risk": _float(a["churn_risk"]),
        "expected_purchases_90d": _float(a["expected_purchases_90d"]),
        "loyalty_score": _float(a["loyalty_score"], 2),
    }
    for name in ("recency_days", "frequency", "tenure_days", "r_score", "f_score", "m_score"):
        columns[name] = a[name].astype(np.int64).tolist()
    for name in ("rfm_segment", "value_tier", "action"):
        columns[name] = a[name].astype(str).tolist()
    for name in (
        "monetary",
        "total_spent",
        "margin_so_far",
        "expected_order_value",
        "predicted_clv",
        "net_value",
    ):
        columns[name] = _money(a[name])
    return columns


def _scores_replace(business: Business, columns: dict[str, list]) -> int:
    """Replace the business's scores in bulk, inside the caller's transaction.

    Plain executemany (SQLite) or COPY (PostgreSQL) of ready values: building 100k model
    instances for bulk_create cost ten times the write itself."""
    table = connection.ops.quote_name(CustomerScore._meta.db_table)
    names = list(columns)
    rows = list(zip(*columns.values(), strict=True))
    quoted = ", ".join(connection.ops.quote_name(n) for n in names)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE business_id = %s", [business.pk])  # noqa: S608
        if settings.XW_TEST_PAUSE_BEFORE_SCORE_WRITE:  # fault injection for the kill test
            time.sleep(settings.XW_TEST_PAUSE_BEFORE_SCORE_WRITE)
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({quoted}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join(["%s"] * len(names))
            cursor.executemany(f"INSERT INTO {table} ({quoted}) VALUES ({marks})", rows)  # noqa: S608
    return len(rows)


@dataclass
class BacktestReport:
    as_of: date
    days: int
    customers: int
    predicted_total: float
    actual_total: int
    mean_abs_error: float
    correlation: float
    by_segment: list[dict]
    per_customer: list[dict]
    warnings: list[str]


def score_backtest(*, business: Business, as_of: date, days: int = 90) -> BacktestReport:
    """Score as of `as_of` from history up to it, then compare each customer's expected
    purchases over the next `days` with what they actually bought (distinct days)."""
    _inputs, _sat, result, _src = score_compute(
        business=business, as_of=as_of, expected_window_days=float(days)
    )
    later = scoring_inputs(business, as_of + timedelta(days=days))
    after = later.day > later.as_of_day - days
    pairs = np.unique(np.stack([later.customer_idx[after], later.day[after]]), axis=1)
    actual = np.bincount(pairs[0].astype(np.int64), minlength=later.customer_ids.size)
    # Customers added after as-of are not in the backtest population.
    keep = np.isin(later.customer_ids, _inputs.customer_ids)
    actual = actual[keep]
    predicted = result.expected_purchases_90d
    segments = result.rfm_segment
    by_segment = []
    for code, _label in maths.SEGMENTS:
        label = str(Segment(code).label)
        mask = segments == code
        if mask.any():
            by_segment.append(
                {
                    "segment": code,
                    "label": label,
                    "customers": int(mask.sum()),
                    "predicted": round(float(predicted[mask].sum()), 1),
                    "actual": int(actual[mask].sum()),
                }
            )
    corr = 0.0
    if predicted.size > 1 and predicted.std() > 0 and actual.std() > 0:
        corr = float(np.corrcoef(predicted, actual)[0, 1])
    per_customer = [
        {
            "customer_id": int(cid),
            "segment": str(seg),
            "predicted": round(float(p), 3),
            "actual": int(a),
        }
        for cid, seg, p, a in zip(_inputs.customer_ids, segments, predicted, actual, strict=True)
    ]
    return BacktestReport(
        as_of=as_of,
        days=days,
        customers=int(predicted.size),
        predicted_total=round(float(predicted.sum()), 1),
        actual_total=int(actual.sum()),
        mean_abs_error=round(float(np.abs(predicted - actual).mean()), 3)
        if predicted.size
        else 0.0,
        correlation=round(corr, 3),
        by_segment=by_segment,
        per_customer=per_customer,
        warnings=result.warnings,
    )
