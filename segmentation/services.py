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
from scipy import optimize
from scipy.special import expit

from accounts.db import refresh_planner_statistics
from accounts.models import Business
from feedback.selectors import satisfaction_by_customer

from . import maths
from .maths.calibration import auc, brier, deciles
from .models import CustomerScore, ScoreDraft, ScoringRun, Segment
from .selectors import ScoringInputs, cutoff, scoring_inputs

logger = logging.getLogger(__name__)
CENT = Decimal("0.01")


def pooled_fallback(
    *, exclude: Business | None = None, model: str = "bgnbd"
) -> tuple[maths.BGNBDParams, str]:
    """Parameters for a business too small to fit: the median of other businesses' latest
    successful fits of the same model, or the documented prior (the CDNOW fit) when there
    are none."""
    latest: dict[int, dict] = {}
    runs = ScoringRun.objects.filter(
        status=ScoringRun.Status.SUCCEEDED, parameters__bgnbd_fitted=True
    ).order_by("business_id", "-started_at")
    if exclude is not None:
        runs = runs.exclude(business=exclude)
    for run in runs.only("business_id", "parameters")[:1000]:
        if run.parameters.get("model", "bgnbd") == model:
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
    *,
    business: Business,
    as_of: date,
    expected_window_days: float | None = None,
    model: str | None = None,
    seasonal: bool | None = None,
) -> tuple[ScoringInputs, np.ndarray, maths.PopulationScores, str]:
    """Run the maths for one business as of one day, writing nothing (defaults: settings)."""
    inputs = scoring_inputs(business, as_of)
    satisfaction = _satisfaction(business, as_of, inputs.customer_ids)
    result, fallback_source = _maths(
        business, inputs, satisfaction, expected_window_days, model, seasonal
    )
    return inputs, satisfaction, result, fallback_source


def _maths(
    business: Business,
    inputs: ScoringInputs,
    satisfaction: np.ndarray,
    expected_window_days: float | None = None,
    model: str | None = None,
    seasonal: bool | None = None,
) -> tuple[maths.PopulationScores, str]:
    conf = settings.XW_SCORING
    model = model or conf["model"]
    # "auto" falls back to BG/NBD: a shop too small to fit is too small to choose.
    fallback, fallback_source = pooled_fallback(
        exclude=business, model="mbgnbd" if model == "mbgnbd" else "bgnbd"
    )
    result = maths.score_population(
        inputs.customer_idx,
        inputs.day,
        inputs.amount,
        inputs.margin,
        n_customers=inputs.customer_ids.size,
        as_of=inputs.as_of_day,
        cost_to_serve=inputs.cost_to_serve,
        satisfaction=satisfaction,
        horizon_months=conf["horizon_months"],
        discount_rate_annual=conf["discount_rate_annual"],
        default_margin_rate=float(business.default_margin_pct) / 100.0,
        loyalty_weights=conf["loyalty_weights"],
        fallback_bgnbd=fallback,
        min_repeat_customers=conf["min_repeat_customers"],
        expected_window_days=float(expected_window_days or conf["churn_window_days"]),
        model=model,
        seasonal=conf["seasonality"] if seasonal is None else seasonal,
    )
    return result, fallback_source


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
    pending = ScoringRun.objects.for_business(business).filter(status=ScoringRun.Status.QUEUED)
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


def _zone_warnings(business: Business) -> list[dict]:
    if business.time_zone_is_valid:
        return []
    params = {"zone": business.time_zone, "used": settings.TIME_ZONE}
    return [{"code": "time_zone_invalid", "params": params}]


def scoring_run_execute(
    *,
    business: Business,
    as_of: date | None = None,
    trigger: str = ScoringRun.Trigger.COMMAND,
    queued_run_id: int | None = None,
) -> ScoringRun:
    """Score every customer of `business` as of `as_of` (default: today, local time).
    `queued_run_id` (from scoring_run_queue) is the run record to fill in, if still queued.

    Idempotent: the same as-of date gives identical score rows. New scores go to drafts in
    short transactions, then replace the current ones in one short transaction: a run that
    dies midway leaves the previous scores intact, and other writers wait only briefly.
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
        check = {}
        if settings.XW_SCORING["self_check"]:
            # How the previous window's predictions held up (cheap: no write).
            window = int(settings.XW_SCORING["churn_window_days"])
            check = backtest_figures(
                business=business,
                as_of=as_of - timedelta(days=window),
                days=window,
                later_inputs=inputs,
            )
        columns = _score_columns(business, run, as_of, inputs, satisfaction, result)
        _drafts_write(business, run, columns)
        with transaction.atomic():
            # Lock the business row: two runs of one business write one after the other.
            Business.objects.select_for_update().filter(pk=business.pk).first()
            written = _scores_replace(business, run, list(columns))
            run.status = ScoringRun.Status.SUCCEEDED
            run.customers_scored = written
            run.parameters = _parameters(result, fallback_source)
            run.warnings = [*result.warnings, *_zone_warnings(business)]
            run.backtest = check
            run.finished_at = timezone.now()
            run.duration_s = round(time.perf_counter() - started, 3)
            run.save()
        ScoreDraft.objects.filter(run_id=run.pk).delete()
    except Exception as exc:
        ScoreDraft.objects.filter(run_id=run.pk).delete()
        logger.exception("Scoring %s as of %s failed", business.slug, as_of)
        ScoringRun.objects.filter(pk=run.pk).update(
            status=ScoringRun.Status.FAILED,
            error=f"{type(exc).__name__}: {exc}",
            finished_at=timezone.now(),
            duration_s=round(time.perf_counter() - started, 3),
        )
        raise
    refresh_planner_statistics(CustomerScore._meta.db_table)
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
        "model": result.model,
        "model_choice": result.model_choice,
        "churn_window_days": result.window_days,
        "seasonality": {
            "month_factors": result.month_factors,
            "window_factor": result.season_factor,
        },
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
        "value_at_stake",
    ):
        columns[name] = _money(a[name])
    return columns


_DRAFT_CHUNK = 20_000


def _drafts_write(business: Business, run: ScoringRun, columns: dict[str, list]) -> None:
    """Write the run's scores as drafts, one short transaction per chunk, so other writers
    (an API till, the admin) get the SQLite write lock between chunks. Drafts left by a
    run that died are removed first.

    Plain executemany (SQLite) or COPY (PostgreSQL) of ready values: building 100k model
    instances for bulk_create cost ten times the write itself."""
    ScoreDraft.objects.filter(business_id=business.pk).delete()
    table = connection.ops.quote_name(ScoreDraft._meta.db_table)
    names = list(columns)
    quoted = ", ".join(connection.ops.quote_name(n) for n in names)
    rows = list(zip(*columns.values(), strict=True))
    for lo in range(0, len(rows), _DRAFT_CHUNK):
        chunk = rows[lo : lo + _DRAFT_CHUNK]
        with transaction.atomic(), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                with cursor.cursor.copy(f"COPY {table} ({quoted}) FROM STDIN") as copy:
                    for row in chunk:
                        copy.write_row(row)
            else:
                marks = ", ".join(["%s"] * len(names))
                cursor.executemany(f"INSERT INTO {table} ({quoted}) VALUES ({marks})", chunk)  # noqa: S608


def _scores_replace(business: Business, run: ScoringRun, names: list[str]) -> int:
    """Replace the business's scores by the run's drafts, inside the caller's transaction:
    one DELETE and one INSERT … SELECT, done by the database engine alone."""
    table = connection.ops.quote_name(CustomerScore._meta.db_table)
    drafts = connection.ops.quote_name(ScoreDraft._meta.db_table)
    quoted = ", ".join(connection.ops.quote_name(n) for n in names)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE business_id = %s", [business.pk])  # noqa: S608
        if settings.XW_TEST_PAUSE_BEFORE_SCORE_WRITE:  # fault injection for the kill test
            time.sleep(settings.XW_TEST_PAUSE_BEFORE_SCORE_WRITE)
        cursor.execute(
            f"INSERT INTO {table} ({quoted}) SELECT {quoted} FROM {drafts} WHERE run_id = %s",  # noqa: S608
            [run.pk],
        )
        return cursor.rowcount


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
    warnings: list[dict]
    figures: dict


def _recency_baseline(recency: np.ndarray, gone: np.ndarray) -> np.ndarray:
    """'Days since last visit' as a probability: a logistic curve in log(1 + days), fitted
    to the same outcomes (in-sample, so it flatters the baseline, never the model)."""
    z = np.log1p(recency)

    def loss(theta: np.ndarray) -> float:
        p = np.clip(expit(theta[0] + theta[1] * z), 1e-12, 1 - 1e-12)
        return float(-np.mean(gone * np.log(p) + (~gone) * np.log1p(-p)))

    theta = optimize.minimize(loss, np.zeros(2), method="Nelder-Mead").x
    return expit(theta[0] + theta[1] * z)


def _max_gap(rows: list[dict]) -> float | None:
    return round(max(abs(r["predicted"] - r["actual"]) for r in rows), 4) if rows else None


def _rounded(rows: list[dict], digits: int = 4) -> list[dict]:
    return [
        {k: round(v, digits) if isinstance(v, float) else v for k, v in row.items()} for row in rows
    ]


def _r(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def score_backtest(
    *,
    business: Business,
    as_of: date,
    days: int | None = None,
    compare_models: bool = False,
    per_customer: bool = False,
    later_inputs: ScoringInputs | None = None,
) -> BacktestReport:
    """Score as of `as_of` from history up to it, then check against the next `days`:
    churn risk per decile (predicted vs actual share who did not come back), expected
    purchases per decile, AUC and Brier score, beside days-since-last-visit alone; the
    loyalty score's and P(alive)'s AUC; the season scaling's effect on the total.

    One read of the history up to the end of the check (``later_inputs``: the nightly run
    passes its own); the purchases up to `as_of` are cut from it. Satisfaction is read as of
    `as_of` (feedback follows purchases: later feedback would leak the outcome); cost to
    serve is as of the end (it moves neither churn risk nor the AUCs)."""
    days = int(days or settings.XW_SCORING["churn_window_days"])
    later = later_inputs or scoring_inputs(business, as_of + timedelta(days=days))
    split = float((as_of - date(1970, 1, 1)).days)
    before = later.day <= split
    inputs = ScoringInputs(
        later.customer_ids,
        later.customer_idx[before],
        later.day[before],
        later.amount[before],
        later.margin[before],
        later.cost_to_serve,
        split,
    )
    satisfaction = _satisfaction(business, as_of, inputs.customer_ids)
    result, _src = _maths(business, inputs, satisfaction, float(days))
    after = (later.day > split) & (later.day <= split + days)
    pairs = np.unique(np.stack([later.customer_idx[after], later.day[after]]), axis=1)
    actual = np.bincount(pairs[0].astype(np.int64), minlength=later.customer_ids.size)
    predicted = result.expected_purchases_90d
    segments = result.rfm_segment
    bought = result.frequency > 0  # leads have no churn risk to check
    came_back = actual[bought] > 0
    gone = ~came_back
    churn = result.churn_risk[bought]
    recency = result.recency_days[bought].astype(np.float64)
    baseline = _recency_baseline(recency, gone) if bought.any() else np.zeros(0)
    churn_deciles = _rounded(deciles(churn, gone))
    baseline_deciles = _rounded(deciles(baseline, gone))
    purchase_deciles = _rounded(deciles(predicted[bought], actual[bought]))
    season = result.season_factor or 1.0
    figures: dict = {
        "as_of": as_of.isoformat(),
        "days": days,
        "customers": int(bought.sum()),
        "came_back": int(came_back.sum()),
        "model": result.model,
        "churn": {
            "deciles": churn_deciles,
            "max_gap": _max_gap(churn_deciles),
            "auc": _r(auc(-churn, came_back)),
            "brier": _r(brier(churn, gone)),
        },
        "recency_baseline": {
            "deciles": baseline_deciles,
            "max_gap": _max_gap(baseline_deciles),
            "auc": _r(auc(-recency, came_back)),
            "brier": _r(brier(baseline, gone)),
        },
        "loyalty_auc": _r(auc(result.loyalty_score[bought], came_back)),
        "p_alive_auc": _r(auc(result.p_alive[bought], came_back)),
        "purchases": {
            "deciles": purchase_deciles,
            "predicted_total": round(float(predicted.sum()), 1),
            "predicted_total_without_seasons": round(float(predicted.sum()) / season, 1),
            "actual_total": int(actual.sum()),
            "season_factor": season,
            "month_factors": result.month_factors,
        },
    }
    if compare_models:
        figures["models"] = {}
        for name in ("bgnbd", "mbgnbd"):
            alt, _f = _maths(business, inputs, satisfaction, float(days), model=name)
            rows = deciles(alt.churn_risk[bought], gone)
            figures["models"][name] = {
                "auc": _r(auc(-alt.churn_risk[bought], came_back)),
                "brier": _r(brier(alt.churn_risk[bought], gone)),
                "max_gap": _max_gap(rows),
            }
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
    figures["by_segment"] = [{k: v for k, v in r.items() if k != "label"} for r in by_segment]
    corr = 0.0
    if predicted.size > 1 and predicted.std() > 0 and actual.std() > 0:
        corr = float(np.corrcoef(predicted, actual)[0, 1])
    rows = []
    if per_customer:
        rows = [
            {
                "customer_id": int(cid),
                "segment": str(seg),
                "churn_risk": round(float(c), 4),
                "predicted": round(float(p), 3),
                "actual": int(a),
            }
            for cid, seg, c, p, a in zip(
                inputs.customer_ids, segments, result.churn_risk, predicted, actual, strict=True
            )
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
        per_customer=rows,
        warnings=result.warnings,
        figures=figures,
    )


def backtest_figures(
    *, business: Business, as_of: date, days: int, later_inputs: ScoringInputs | None = None
) -> dict:
    """The backtest's figures only (stored with a run); {} when nothing can be checked."""
    report = score_backtest(business=business, as_of=as_of, days=days, later_inputs=later_inputs)
    if report.figures["customers"] == 0:
        return {}
    return report.figures


def backtest_run_record(*, business: Business, as_of: date, figures: dict) -> ScoringRun:
    """Keep a `backtest` command's figures as a scoring run (it writes no scores)."""
    now = timezone.now()
    return ScoringRun.objects.create(
        business=business,
        as_of=as_of,
        trigger=ScoringRun.Trigger.BACKTEST,
        status=ScoringRun.Status.SUCCEEDED,
        started_at=now,
        finished_at=now,
        duration_s=0.0,
        backtest=figures,
    )
