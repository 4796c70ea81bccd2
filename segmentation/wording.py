"""Words an owner can act on: every surface (admin, shop app, exports, API) calls these.

The owner sees "chance not to come back in 90 days: 82 %" and one or two plain sentences
(why, and what to do). Model names, parameters and weights live behind "how is this
computed" (:func:`how_computed`). Keep names and signatures: the shop app calls them.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from django.conf import settings
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _

from customers.money import format_money

__all__ = [
    "churn_phrase",
    "duration_phrase",
    "how_computed",
    "percent",
    "plain_explanation",
    "score_words",
]

#: Churn risk from which a repeat buyer reads as "likely slipping away".
SLIPPING = 0.5
#: Churn risk from which a one-time buyer reads as "rarely return".
RARELY = 0.7


def _window_days(score: Any) -> int:
    # The run's own window when it is already loaded (no query per row), else the setting.
    state = getattr(score, "_state", None)
    run = state.fields_cache.get("run") if state is not None else None
    days = (run.parameters or {}).get("churn_window_days") if run is not None else None
    return int(days or settings.XW_SCORING["churn_window_days"])


def percent(value: float) -> str:
    """0.823 -> "82 %" (never "100 %" or "0 %" for something that is merely likely)."""
    pct = round(float(value) * 100)
    if 0 < value < 1:
        pct = min(max(pct, 1), 99)
    return f"{pct} %"


def duration_phrase(days: int) -> str:
    """A span of days as people say it: days, then weeks, then months, then years."""
    return _duration(get_language(), max(int(days), 0))


# Phrases are cached per language: a list page words 50 customers, ~5 translations each.
@lru_cache(maxsize=4096)
def _duration(_language: str | None, days: int) -> str:
    if days < 14:
        return ngettext("%(n)d day", "%(n)d days", days) % {"n": days}
    if days < 70:
        weeks = round(days / 7)
        return ngettext("%(n)d week", "%(n)d weeks", weeks) % {"n": weeks}
    if days < 730:
        months = round(days / 30.44)
        return ngettext("%(n)d month", "%(n)d months", months) % {"n": months}
    years = round(days / 365.25)
    return ngettext("%(n)d year", "%(n)d years", years) % {"n": years}


def churn_phrase(score: Any) -> str:
    """ "chance not to come back in 90 days: 82 %" (the window is the run's setting)."""
    if score is None:
        return _("not scored yet")
    if score.frequency == 0:
        return _("has not bought yet")
    return churn_words(score.churn_risk, _window_days(score))


def churn_words(churn_risk: float, days: int | None = None) -> str:
    """The owner's words for a churn risk figure, wherever it is shown without its score."""
    return _churn_words(
        get_language(), days or settings.XW_SCORING["churn_window_days"], percent(churn_risk)
    )


@lru_cache(maxsize=4096)
def _churn_words(_language: str | None, days: int, pct: str) -> str:
    return _("chance not to come back in %(days)d days: %(pct)s") % {"days": days, "pct": pct}


_TO_DO = {
    "care": lambda: _("Keep them delighted: a personal thank-you or first look at news."),
    "win_back": lambda: _("Call or message them with a personal invitation."),
    "nurture": lambda: _("Invite them back with something that suits them."),
    "maintain": lambda: _("Keep in touch through low-cost routines."),
    "review_cost": lambda: _("Look at why serving them costs more than they bring."),
}


def _why(score: Any, language: str | None) -> str:
    """Why, for a score with purchases (`language` the active one, for the caches)."""
    if score.frequency == 1:
        return _why_words(language, score.recency_days, None, score.churn_risk >= RARELY)
    return _why_words(language, score.recency_days, *_repeat_state(score))


def _repeat_state(score: Any) -> tuple[int, str]:
    # A repeat buyer: the usual gap in days, and slipping away, a little late, or on track.
    gap_days = max((score.tenure_days - score.recency_days) / (score.frequency - 1), 1)
    if score.churn_risk >= SLIPPING:
        return round(gap_days), "slipping"
    if score.recency_days > 1.5 * gap_days:
        return round(gap_days), "late"
    return round(gap_days), "on_track"


@lru_cache(maxsize=8192)
def _why_words(
    _language: str | None, recency_days: int, every_days: int | None, state: bool | str
) -> str:
    ago = duration_phrase(recency_days)
    if every_days is None:  # bought once; `state`: customers like this rarely return
        if state:
            return _("Bought once, %(ago)s ago; customers like this rarely return.") % {"ago": ago}
        return _("Bought once, %(ago)s ago; may well come back.") % {"ago": ago}
    every = duration_phrase(every_days)
    if state == "slipping":
        return _("Comes about every %(every)s, last came %(ago)s ago — likely slipping away.") % {
            "every": every,
            "ago": ago,
        }
    if state == "late":
        return _(
            "Comes about every %(every)s, last came %(ago)s ago — a little late, still "
            "expected back."
        ) % {"every": every, "ago": ago}
    return _("Comes about every %(every)s, last came %(ago)s ago — on track.") % {
        "every": every,
        "ago": ago,
    }


def plain_explanation(score: Any, business: Any) -> str:
    """One or two plain sentences: why, then what to do (``business`` for the currency)."""
    if score is None:
        return _("Not scored yet: scores appear after the next nightly run or Rescore now.")
    return _explanation(score, get_language())


def _explanation(score: Any, language: str | None) -> str:
    if score.frequency == 0:
        return f"{_('Has not bought yet.')} {_('Invite them for a first visit.')}"
    return _with_to_do(language, _why(score, language), score.action)


@lru_cache(maxsize=8192)
def _with_to_do(_language: str | None, why: str, action: str) -> str:
    todo = _TO_DO.get(action)
    return why if todo is None else f"{why} {todo()}"


def score_words(score: Any, language: str | None) -> tuple[str, str]:
    """(churn_phrase, plain_explanation) of a score, `language` being the active one: a list
    page words every row without asking for the language again."""
    if score is None or score.frequency == 0:
        return churn_phrase(score), plain_explanation(score, None)
    churn = _churn_words(language, _window_days(score), percent(score.churn_risk))
    return churn, _explanation(score, language)


def how_computed(score: Any, business: Any) -> list[str]:
    """The model details behind the plain words, one line each (admin: "how is this
    computed"; docs/scoring.md explains every term)."""
    params = (score.run.parameters or {}) if getattr(score, "run", None) else {}
    currency = getattr(business, "currency", "CNY")
    weights = params.get("settings", {}).get("loyalty_weights", {})
    bg = params.get("bgnbd") or {}
    model = {"bgnbd": "BG/NBD", "mbgnbd": "MBG/NBD"}.get(params.get("model", "bgnbd"), "BG/NBD")
    lines = [
        _("Segment %(segment)s: R %(r)s · F %(f)s · M %(m)s (1–5 within your shop).")
        % {
            "segment": score.get_rfm_segment_display(),
            "r": score.r_score,
            "f": score.f_score,
            "m": score.m_score,
        },
        _(
            "Chance not to come back = (1 − P(alive)) + P(alive) × chance an active customer "
            "makes no purchase in the window; P(alive) = %(alive)s (%(model)s model: r %(r)s, "
            "α %(alpha)s, a %(a)s, b %(b)s, time in weeks)."
        )
        % {
            "alive": percent(score.p_alive),
            "model": model,
            "r": _fmt(bg.get("r")),
            "alpha": _fmt(bg.get("alpha")),
            "a": _fmt(bg.get("a")),
            "b": _fmt(bg.get("b")),
        },
        _("Expected purchases in the window: %(n).2f.") % {"n": score.expected_purchases_90d},
        _(
            "Net value %(net)s = margin so far %(margin)s + predicted margin %(clv)s "
            "− cost to serve %(cost)s; value at stake %(stake)s = predicted value × chance "
            "not to come back."
        )
        % {
            "net": format_money(score.net_value, currency),
            "margin": format_money(score.margin_so_far, currency),
            "clv": format_money(score.predicted_clv, currency),
            "cost": format_money(score.cost_to_serve, currency),
            "stake": format_money(score.value_at_stake, currency),
        },
        _(
            "Loyalty %(score).0f/100, weights: coming back %(returning)s, repeat %(repeat)s, "
            "tenure %(tenure)s, satisfaction %(sat)s."
        )
        % {
            "score": score.loyalty_score,
            "returning": weights.get("returning", "—"),
            "repeat": weights.get("repeat", "—"),
            "tenure": weights.get("tenure", "—"),
            "sat": weights.get("satisfaction", "—"),
        },
    ]
    return lines


def _fmt(value: Any) -> str:
    return "—" if value is None else f"{float(value):.3g}"
