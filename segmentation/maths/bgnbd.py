"""BG/NBD purchase model (Fader, Hardie & Lee 2005, "Counting your customers the easy way").

Per customer: x = repeat transactions, t_x = time of the last transaction, T = time of
observation, both measured from the customer's first transaction, in ONE time unit that
also applies to ``alpha`` (the engine uses weeks = days / 7 for numerical conditioning).

Individual log-likelihood (paper eq. 6), written in log space so that no term overflows::

    LL = ln G(r+x) - ln G(r) + r ln(alpha) + ln B(a, b+x) - ln B(a, b)
         + logaddexp( -(r+x) ln(alpha+T),
                      [x>0] (ln a - ln(b+x-1) - (r+x) ln(alpha+t_x)) )

CDNOW reproduction (tests/segmentation/test_maths_cdnow.py): calibration purchases dated
1997-01-01..1997-09-30 inclusive, as-of 1997-09-30, T = (as-of - first purchase day) / 7
(so a customer first buying on 1997-01-01 has T = 272/7 = 38.857 weeks, as in Hardie's
``cdnow_customers_summary`` file), same-day purchases merged, gives the paper's
r = 0.243, alpha = 4.414, a = 0.793, b = 2.426 and LL = -9582.43.

``modified=True`` everywhere selects the MBG/NBD variant (Batislam, Denizel & Filiztekin
2007): a customer may also drop out right after the FIRST purchase, so P(alive) < 1 for
one-time buyers too. Given alive, its dropout posterior is Beta(a, b+x+1) instead of
Beta(a, b+x): every formula is BG/NBD's with ``b + x - 1`` read as ``b + x`` and the
``x > 0`` condition dropped.

:func:`p_no_purchase` is the owner's "churn risk": the chance of no purchase in the next
``tau``: (1 - P(alive)) + P(alive) ((alpha+T)/(alpha+T+tau))^(r+x), defined for everybody.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from ._numeric import judge_fit, minimise, wdot

__all__ = [
    "DEFAULT_PRIOR",
    "BGNBDFit",
    "BGNBDParams",
    "expected_purchases",
    "fit",
    "log_likelihood",
    "p_alive",
    "p_no_purchase",
]


@dataclass(frozen=True)
class BGNBDParams:
    """BG/NBD parameters: purchase rate ~ Gamma(r, alpha), dropout p ~ Beta(a, b)."""

    r: float
    alpha: float
    a: float
    b: float

    def as_tuple(self) -> tuple[float, float, float, float]:
        return (self.r, self.alpha, self.a, self.b)


ParamsLike = BGNBDParams | Sequence[float]

#: Documented prior / fallback: the paper's CDNOW estimates, time unit = WEEKS.
#: (Mean inter-purchase rate r/alpha ~ 0.055 per week; mean dropout a/(a+b) ~ 0.25 per
#: purchase.) Use it when a business has too little repeat history to fit its own.
DEFAULT_PRIOR = BGNBDParams(r=0.243, alpha=4.414, a=0.793, b=2.426)

# Log-parameter box for the optimiser: wide enough for any sane data set in days or weeks,
# narrow enough that exp() never overflows. A solution on the box edge = not identified.
_LOG_BOUND = 12.0


@dataclass(frozen=True)
class BGNBDFit:
    """Result of :func:`fit`. Parameters are always finite (the prior when nothing to fit)."""

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float  # summed (weighted) log-likelihood at the parameters
    converged: bool
    n: int  # number of customers (sum of weights) used
    message: str
    on_bound: tuple[str, ...] = ()  # parameters that ended on the optimiser's box

    @property
    def params(self) -> BGNBDParams:
        return BGNBDParams(self.r, self.alpha, self.a, self.b)


def _params(params: ParamsLike) -> tuple[float, float, float, float]:
    r, alpha, a, b = (
        float(v) for v in (params.as_tuple() if isinstance(params, BGNBDParams) else params)
    )
    if not all(np.isfinite(v) and v > 0 for v in (r, alpha, a, b)):
        raise ValueError(f"BG/NBD parameters must be finite and > 0, got {(r, alpha, a, b)}")
    return r, alpha, a, b


def _clean(
    x: ArrayLike, t_x: ArrayLike, big_t: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Broadcast and sanitise (x >= 0, 0 <= t_x <= T); NaN/inf is a caller bug -> ValueError."""
    xa, ta, ba = np.broadcast_arrays(
        np.asarray(x, dtype=np.float64),
        np.asarray(t_x, dtype=np.float64),
        np.asarray(big_t, dtype=np.float64),
    )
    if not (np.isfinite(xa).all() and np.isfinite(ta).all() and np.isfinite(ba).all()):
        raise ValueError("frequency, recency and T must be finite")
    ba = np.maximum(ba, 0.0)
    # Rounding in unit conversions can put t_x a hair above T.
    ta = np.clip(ta, 0.0, ba)
    return np.maximum(xa, 0.0), ta, ba


def _log_odds_dead(
    params: tuple[float, float, float, float],
    x: NDArray[np.float64],
    t_x: NDArray[np.float64],
    big_t: NDArray[np.float64],
    modified: bool = False,
) -> NDArray[np.float64]:
    """ln[a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x)] for x > 0, -inf for x == 0
    (MBG/NBD: ln[a/(b+x) ...] for every x)."""
    r, alpha, a, b = params
    shift = 1.0 if modified else 0.0
    pos = np.ones(x.shape, dtype=np.bool_) if modified else x > 0
    bx1 = np.where(pos, b + x - 1.0 + shift, 1.0)
    # log1p keeps precision when T - t_x is small relative to alpha + t_x.
    d = np.log(a) - np.log(bx1) + (r + x) * np.log1p((big_t - t_x) / (alpha + t_x))
    return np.where(pos, d, -np.inf)


def log_likelihood(
    params: ParamsLike,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    *,
    modified: bool = False,
) -> NDArray[np.float64]:
    """Per-customer log-likelihood (paper eq. 6), finite for all valid inputs."""
    p = _params(params)
    r, alpha, a, b = p
    x, tx, bt = _clean(frequency, recency, T)
    head = (
        special.gammaln(r + x)
        - special.gammaln(r)
        + r * np.log(alpha)
        + special.betaln(a, b + x + (1.0 if modified else 0.0))
        - special.betaln(a, b)
    )
    a3 = -(r + x) * np.log(alpha + bt)
    return head + a3 + np.logaddexp(0.0, _log_odds_dead(p, x, tx, bt, modified))


def p_alive(
    params: ParamsLike,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    *,
    modified: bool = False,
) -> NDArray[np.float64]:
    """P(customer still active at T | x, t_x, T) (paper eq. 11); exactly 1 when x == 0
    (BG/NBD only: the MBG/NBD lets one-time buyers drop out too).

    Computed as expit(-log_odds) so it stays in [0, 1] even for x = 10000.
    """
    p = _params(params)
    x, tx, bt = _clean(frequency, recency, T)
    return special.expit(-_log_odds_dead(p, x, tx, bt, modified))


def p_no_purchase(
    params: ParamsLike,
    tau: ArrayLike,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    *,
    modified: bool = False,
) -> NDArray[np.float64]:
    """P(no purchase in (T, T+tau] | x, t_x, T): the churn risk owners can check.

    Dead customers never buy; an alive one buys as a Poisson process whose rate has the
    posterior Gamma(r+x, alpha+T), and (in both variants) can only drop out right after a
    purchase, so it makes none in the window with probability ((alpha+T)/(alpha+T+tau))^(r+x).
    For fixed x, it never falls as the last purchase gets older (t_x down or T up).
    ``tau`` may be an effective (season-scaled) window length; it broadcasts.
    """
    p = _params(params)
    r, alpha, _a, _b = p
    x, tx, bt = _clean(frequency, recency, T)
    tt = np.maximum(np.asarray(tau, dtype=np.float64), 0.0)
    if not np.isfinite(tt).all():
        raise ValueError("tau must be finite")
    alive = special.expit(-_log_odds_dead(p, x, tx, bt, modified))
    stay_silent = np.exp(-(r + x) * np.log1p(tt / (alpha + bt)))
    return np.clip((1.0 - alive) + alive * stay_silent, 0.0, 1.0)


# From this a on, hyp2f1 overflows (near-homogeneous dropout) and the dropout posterior is
# concentrated enough for an 8-node Gauss rule (< 3e-8 relative error in our checks).
_QUAD_MIN_A = 30.0
_QUAD_CHUNK = 1 << 20  # matrix elements per chunk: bounds memory for 100k x 13 horizons


def _expected_quadrature(
    params: tuple[float, float, float, float],
    t: NDArray[np.float64],
    x: NDArray[np.float64],
    big_t: NDArray[np.float64],
) -> NDArray[np.float64]:
    """E[Y(t) | alive] by quadrature over the dropout posterior (1-D arrays).

    Given alive, lambda ~ Gamma(r+x, alpha+T) and p ~ Beta(a, b+x), and
    E[Y(t) | lambda, p] = (1 - exp(-lambda p t)) / p. Integrating lambda out leaves
    E_p[(1 - (1 + p s)^-(r+x)) / p], s = t / (alpha+T): a smooth, bounded integrand.

    * a >= 30: 8-node Gauss rule of Beta(a, b+x) itself (Golub-Welsch).
    * otherwise (hyp2f1 failed, e.g. x = 0 and a + b < 1): Gauss-Legendre nodes over the
      Beta quantile u (p = betaincinv(a, b+x, u)) after u = (1 - cos(pi v)) / 2, which
      tames the endpoints. 64 nodes (< 1e-7 relative error against the closed form) while
      (r+x) s <= 30; beyond, the integrand turns from (r+x) s to 1/p inside the posterior's
      bulk and 64 nodes were off by up to 3e-5 (the closed form, checked against adaptive
      quadrature to 1e-12, was right), so those rows get 256 nodes (< 1e-6).
    """
    r, alpha, a, _b = params
    if a >= _QUAD_MIN_A:
        return _quadrature_rows(params, t, x, big_t, None)
    sharp = (r + x) * t / (alpha + big_t) > _SHARP_KS
    out = np.empty(x.shape)
    for rows, rule in ((~sharp, _QUANTILE_NODES), (sharp, _QUANTILE_NODES_FINE)):
        if rows.any():
            out[rows] = _quadrature_rows(params, t[rows], x[rows], big_t[rows], rule)
    return out


def _quadrature_rows(
    params: tuple[float, float, float, float],
    t: NDArray[np.float64],
    x: NDArray[np.float64],
    big_t: NDArray[np.float64],
    rule: tuple[NDArray[np.float64], NDArray[np.float64]] | None,
) -> NDArray[np.float64]:
    r, alpha, a, b = params
    ux, ix = np.unique(x, return_inverse=True)
    if rule is None:
        nodes, weights = _beta_gauss_rules(a, b + ux, 8)
    else:
        u_v, u_w = rule
        nodes = special.betaincinv(a, (b + ux)[:, None], u_v[None, :])
        weights = np.broadcast_to(u_w, nodes.shape)
    s = t / (alpha + big_t)
    k = r + x
    out = np.empty(x.shape)
    step = max(1, _QUAD_CHUNK // nodes.shape[1])
    for lo in range(0, x.size, step):
        sl = slice(lo, lo + step)
        pn = nodes[ix[sl]]
        ks = (k[sl] * s[sl])[:, None]
        with np.errstate(all="ignore"):
            g = -np.expm1(-k[sl, None] * np.log1p(pn * s[sl, None])) / pn
        g = np.where(pn > 0, g, ks)  # limit p -> 0 is k s
        out[sl] = np.einsum("ij,ij->i", g, weights[ix[sl]])  # no BLAS threads (see wdot)
    return out


def _beta_gauss_rules(
    a: float, b: NDArray[np.float64], n: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """n-point Gauss rules of Beta(a, b_j), one row per b_j: nodes in [0, 1], weights sum 1.

    Golub-Welsch on the Jacobi matrix of P^(alpha=b-1, beta=a-1) on [-1, 1] (batched
    eigh of small dense matrices); normalising the weights ourselves avoids
    scipy.roots_jacobi's overflowing mu0 for large a, b.
    """
    al = np.asarray(b, dtype=np.float64)[:, None] - 1.0
    be = a - 1.0
    k = np.arange(1, n, dtype=np.float64)[None, :]
    s = 2.0 * k + al + be
    diag = np.empty((al.shape[0], n))
    diag[:, :1] = (be - al) / (al + be + 2.0)
    diag[:, 1:] = (be - al) * (be + al) / (s * (s + 2.0))
    off2 = 4.0 * k * (k + al) * (k + be) * (k + al + be) / (s * s * (s + 1.0) * (s - 1.0))
    # k = 1 in simplified form (no 0/0 when alpha + beta = -1).
    off2[:, :1] = 4.0 * (1.0 + al) * (1.0 + be) / ((2.0 + al + be) ** 2 * (3.0 + al + be))
    off = np.sqrt(np.maximum(off2, 0.0))
    jac = np.zeros((al.shape[0], n, n))
    idx = np.arange(n)
    jac[:, idx, idx] = diag
    jac[:, idx[:-1], idx[1:]] = off
    jac[:, idx[1:], idx[:-1]] = off
    eig, vec = np.linalg.eigh(jac)
    w = vec[:, 0, :] ** 2
    return np.clip((1.0 + eig) / 2.0, 0.0, 1.0), w / w.sum(axis=1, keepdims=True)


def _quantile_nodes(n: int = 64) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    v, w = np.polynomial.legendre.leggauss(n)
    v = (v + 1.0) / 2.0
    u = (1.0 - np.cos(np.pi * v)) / 2.0
    return u, w / 2.0 * (np.pi / 2.0) * np.sin(np.pi * v)


_QUANTILE_NODES = _quantile_nodes()
_QUANTILE_NODES_FINE = _quantile_nodes(256)
_SHARP_KS = 30.0


def expected_purchases(
    params: ParamsLike,
    t: ArrayLike,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    *,
    modified: bool = False,
) -> NDArray[np.float64]:
    """Expected number of transactions in (T, T+t] given (x, t_x, T) (paper eq. 10).

    Uses Euler's transformation of the paper's 2F1 so its parameters no longer grow with x:
    ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; z)
        = (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z),  z = t/(alpha+T+t).
    For a >= 30 (near-homogeneous dropout, where hyp2f1 overflows), and for any row where
    hyp2f1 is non-finite or breaks 0 <= E[Y|alive] <= (r+x) t/(alpha+T), the value comes
    from quadrature instead (see ``_expected_quadrature``). Results are always finite and
    >= 0. ``t`` broadcasts against the customer arrays (e.g. shape (k, 1)).
    MBG/NBD: the same given-alive expectation with b + 1 (posterior Beta(a, b+x+1)).
    """
    p_in = _params(params)
    r, alpha, a, b = p_in
    if modified:
        b += 1.0
    p = (r, alpha, a, b)
    x, tx, bt = _clean(frequency, recency, T)
    tt = np.maximum(np.asarray(t, dtype=np.float64), 0.0)
    if not np.isfinite(tt).all():
        raise ValueError("t must be finite")
    tt, x, tx, bt = np.broadcast_arrays(tt, x, tx, bt)
    upper = (r + x) * tt / (alpha + bt)  # no-dropout bound on E[Y(t) | alive]
    if a >= _QUAD_MIN_A:
        cond = np.zeros(tt.shape)
        bad = tt > 0
    else:
        # a == 1 is a removable singularity of the closed form; step off it.
        a_eff = a if abs(a - 1.0) > 1e-7 else 1.0 + 1e-7
        z = tt / (alpha + bt + tt)
        c = a_eff + b + x - 1.0
        with np.errstate(all="ignore"):
            f = special.hyp2f1(a_eff + b - 1.0 - r, a_eff - 1.0, c, z)
            log_term = (a_eff - 1.0) * np.log1p(-z) + np.log(f)
            cond = (c / (a_eff - 1.0)) * -np.expm1(log_term)
        slack = 1e-9 * (1.0 + upper)
        bad = ~np.isfinite(cond) | (cond < -slack) | (cond > upper + slack)
        bad &= tt > 0
    if bad.any():
        cond = np.array(cond, dtype=np.float64)  # writable, also for 0-d input
        cond[bad] = _expected_quadrature(p, tt[bad], x[bad], bt[bad])
    cond = np.where(np.isfinite(cond), cond, 0.0)
    alive = special.expit(-_log_odds_dead(p_in, x, tx, bt, modified))
    return alive * np.clip(cond, 0.0, upper)


def _failed(message: str, n: int, ll: float) -> BGNBDFit:
    return BGNBDFit(*DEFAULT_PRIOR.as_tuple(), ll, False, n, message)


def fit(
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    weights: ArrayLike | None = None,
    penalizer: float = 0.0,
    *,
    modified: bool = False,
) -> BGNBDFit:
    """Maximum-likelihood fit of (r, alpha, a, b); never raises on degenerate data.

    Optimises log-parameters with L-BFGS-B and an analytic gradient, starting from the
    prior (and from all ones only if that run fails), then polishes with a warm restart
    (tolerances tight enough for 4-decimal agreement on CDNOW). Rows are compressed to unique
    (x, t_x, T) with weights, and the x-only terms are evaluated once per distinct x, so
    100k customers fit in a fraction of a second. ``penalizer`` adds
    ``penalizer * sum(params**2)`` to the mean negative log-likelihood (lifetimes style).

    ``converged`` is False (and the message says why) when the data cannot identify the
    model (fewer than 2 customers, no repeat purchase at all) or the optimiser fails; the
    parameters are then :data:`DEFAULT_PRIOR` (no fit attempted) or the best finite point
    found. A maximum on the parameter box (a degenerate limit such as b -> infinity, i.e.
    everybody has the same dropout probability) counts as converged and is listed in
    ``on_bound``; callers may want more data before trusting it.
    """
    x, tx, bt = _clean(frequency, recency, T)
    x, tx, bt = x.ravel(), tx.ravel(), bt.ravel()
    w = np.ones(x.size) if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    if w.shape != x.shape:
        raise ValueError("weights must have one value per customer")
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValueError("weights must be finite and >= 0")
    keep = w > 0
    x, tx, bt, w = x[keep], tx[keep], bt[keep], w[keep]
    n_total = float(w.sum())
    n = round(n_total)
    if x.size == 0 or n_total < 2:
        return _failed("fewer than 2 customers: too little data to fit 4 parameters", n, 0.0)
    if not (x > 0).any() and not modified:
        return _failed("no repeat purchases: the dropout process cannot be estimated", n, 0.0)
    if not np.isfinite(penalizer) or penalizer < 0:
        raise ValueError("penalizer must be finite and >= 0")

    # Factor each column, then compress identical rows into weights.
    ux, ix = np.unique(x, return_inverse=True)
    ut, it = np.unique(tx, return_inverse=True)
    u_t, i_t = np.unique(bt, return_inverse=True)
    key = (ix.astype(np.int64) * ut.size + it) * u_t.size + i_t
    ukey, inv = np.unique(key, return_inverse=True)
    wr = np.bincount(inv, weights=w)
    first = np.zeros(ukey.size, dtype=np.int64)
    first[inv] = np.arange(key.size)  # any representative of each unique row
    ix, it, i_t = ix[first], it[first], i_t[first]
    xr = ux[ix]
    wsum = float(wr.sum())
    # Terms that depend on one column only are reduced to per-distinct-value weights, so
    # each evaluation touches full rows only for the repeat buyers' mixing term.
    wx = np.bincount(ix, weights=wr, minlength=ux.size)  # weight per distinct x
    w_T = np.bincount(i_t, weights=wr, minlength=u_t.size)  # weight per distinct T
    wx_T = np.bincount(i_t, weights=wr * xr, minlength=u_t.size)  # sum of w*x per T
    shift = 1.0 if modified else 0.0
    pos = np.ones(xr.shape, dtype=np.bool_) if modified else xr > 0
    p_ix, p_it, p_iT, p_w, p_x = ix[pos], it[pos], i_t[pos], wr[pos], xr[pos]
    uxpos = np.ones(ux.shape, dtype=np.bool_) if modified else ux > 0
    bx1_shift = np.where(uxpos, ux - 1.0 + shift, 0.0)
    uxb = ux + shift  # Beta(a, b + x) (MBG/NBD: b + x + 1) in the head

    def negll(theta: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        r, alpha, a, b = np.exp(theta)
        # Per distinct x.
        head = (
            special.gammaln(r + ux)
            - special.gammaln(r)
            + r * np.log(alpha)
            + special.betaln(a, b + uxb)
            - special.betaln(a, b)
        )
        bx1 = b + bx1_shift  # b + x - 1 for x > 0 (b elsewhere, unused)
        dr_x = special.digamma(r + ux) - special.digamma(r) + np.log(alpha)
        psi_ab = special.digamma(a + b)
        da_x = psi_ab - special.digamma(a + b + uxb)
        db_x = psi_ab + special.digamma(b + uxb) - special.digamma(b) - special.digamma(a + b + uxb)
        # Per distinct T: -(r+x) ln(alpha+T) summed over all rows.
        l_tu = np.log(alpha + u_t)
        inv_tu = 1.0 / (alpha + u_t)
        rw_t = r * w_T + wx_T  # sum of w (r + x) per distinct T
        # Repeat buyers: the "dropped out right after t_x" branch, log-odds d.
        l_tp = l_tu[p_iT]
        l_txp = np.log(alpha + ut)[p_it]
        k = r + p_x
        d = np.log(a) - np.log(bx1)[p_ix] + k * (l_tp - l_txp)
        w4 = special.expit(d)  # posterior share of that branch
        ll = wdot(wx, head) - wdot(rw_t, l_tu) + wdot(p_w, np.logaddexp(0.0, d))
        g_r = wdot(wx, dr_x) - wdot(w_T, l_tu) + wdot(p_w * w4, l_tp - l_txp)
        g_al = (
            r / alpha * wsum
            - wdot(rw_t, inv_tu)
            + wdot(p_w * w4 * k, inv_tu[p_iT] - (1.0 / (alpha + ut))[p_it])
        )
        g_a = wdot(wx, da_x) + wdot(p_w, w4) / a
        g_b = wdot(wx, db_x) - wdot(p_w * w4, (1.0 / bx1)[p_ix])
        grad_nat = np.array([g_r, g_al, g_a, g_b])
        par = np.array([r, alpha, a, b])
        # Mean NLL keeps tolerances independent of n; chain rule to log-parameters.
        f = -ll / wsum + penalizer * wdot(par, par)
        g = -grad_nat * par / wsum + 2.0 * penalizer * par * par
        if not np.isfinite(f) or not np.isfinite(g).all():
            return 1e300, np.zeros(4)
        return f, g

    best, last_msg = minimise(
        negll, [np.log(np.array(DEFAULT_PRIOR.as_tuple())), np.zeros(4)], _LOG_BOUND
    )
    if best is None:
        return _failed(last_msg, n, 0.0)
    theta = np.asarray(best.x, dtype=np.float64)
    est = tuple(float(v) for v in np.exp(theta))
    f_best, g_best = negll(theta)
    if not np.isfinite(f_best) or f_best >= 1e299:
        return _failed("log-likelihood is not finite at the optimum", n, 0.0)
    ll_sum = float(-(f_best - penalizer * float(np.dot(est, est))) * wsum)
    ok, on_bound, msg = judge_fit(best, theta, g_best, ("r", "alpha", "a", "b"), _LOG_BOUND)
    return BGNBDFit(*est, log_likelihood=ll_sum, converged=ok, n=n, message=msg, on_bound=on_bound)
