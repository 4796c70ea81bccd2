"""Per-customer purchase summary from raw transactions (the RFM / BG/NBD inputs).

Mirrors lifetimes' ``summary_data_from_transaction_data``:

* purchases of one customer on the same calendar day are ONE transaction (amounts summed);
* ``frequency`` x  = number of repeat transactions = distinct purchase days - 1;
* ``recency`` t_x  = time between first and last transaction;
* ``T``            = time between first transaction and the as-of day;
* ``monetary_value`` = mean value of the repeat transactions (the first one excluded), the
  Gamma-Gamma input; 0 when x == 0.

Times are day numbers (float days since any epoch, or ``datetime64``); fractional days are
floored to the calendar day. The as-of date is a day too: purchases on the as-of day count,
purchases after it are ignored. ``time_unit`` only rescales t_x and T (weeks = days / 7).
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

TimeUnit = Literal["days", "weeks"]
TIME_UNIT_DAYS: dict[str, float] = {"days": 1.0, "weeks": 7.0}

__all__ = ["TIME_UNIT_DAYS", "CustomerSummary", "summarize_transactions", "to_day_numbers"]


def to_day_numbers(values: ArrayLike | _dt.date) -> NDArray[np.float64]:
    """Convert dates to float day numbers (days since 1970-01-01 for dates), floored to days.

    Accepts float/int day numbers, ``datetime64`` arrays/scalars, ``datetime.date`` and
    ``datetime.datetime``. Raises ``ValueError`` on NaN/NaT/inf.
    """
    if isinstance(values, _dt.datetime):
        values = np.datetime64(values.date(), "D")
    elif isinstance(values, _dt.date):
        values = np.datetime64(values, "D")
    arr = np.asarray(values)
    if arr.dtype.kind == "M":
        if np.isnat(arr).any():
            raise ValueError("dates contain NaT")
        out = arr.astype("datetime64[D]").astype(np.int64).astype(np.float64)
    elif arr.dtype.kind == "O":
        # Lists of datetime.date objects: let numpy parse them as days.
        return to_day_numbers(arr.astype("datetime64[D]"))
    else:
        out = np.floor(arr.astype(np.float64))
    if not np.isfinite(out).all():
        raise ValueError("day numbers must be finite")
    return out


@dataclass(frozen=True)
class CustomerSummary:
    """Per-customer arrays, indexed by customer index 0..n_customers-1.

    Customers with no purchase up to the as-of date have ``has_purchase`` False,
    x = t_x = T = 0, zero money, and NaN ``first_day`` / ``last_day``.
    """

    frequency: NDArray[np.float64]  # x, repeat transactions
    recency: NDArray[np.float64]  # t_x, in time_unit
    T: NDArray[np.float64]  # in time_unit
    monetary_value: NDArray[np.float64]  # mean of repeat transactions' values
    total_spent: NDArray[np.float64]
    n_transactions: NDArray[np.int64]  # distinct purchase days
    first_day: NDArray[np.float64]
    last_day: NDArray[np.float64]
    has_purchase: NDArray[np.bool_]
    as_of_day: float
    time_unit_days: float
    n_ignored_after_as_of: int


def summarize_transactions(
    customer_idx: ArrayLike,
    day: ArrayLike,
    amount: ArrayLike,
    as_of: float | np.datetime64 | _dt.date,
    n_customers: int | None = None,
    time_unit: TimeUnit = "days",
) -> CustomerSummary:
    """Build the per-customer summary (vectorised; ~0.1 s for 1M transactions).

    ``customer_idx`` are non-negative ints < ``n_customers`` (default: max index + 1).
    """
    if time_unit not in TIME_UNIT_DAYS:
        raise ValueError(f"time_unit must be one of {sorted(TIME_UNIT_DAYS)}, got {time_unit!r}")
    unit = TIME_UNIT_DAYS[time_unit]
    idx = np.asarray(customer_idx)
    if idx.size and idx.dtype.kind not in "iu" and not np.all(np.mod(idx, 1) == 0):
        raise ValueError("customer_idx must be integers")
    idx = idx.astype(np.int64, copy=False).ravel()
    days = to_day_numbers(day).ravel()
    amt = np.asarray(amount, dtype=np.float64).ravel()
    if not (idx.shape == days.shape == amt.shape):
        raise ValueError("customer_idx, day and amount must have the same length")
    if not np.isfinite(amt).all():
        raise ValueError("amounts must be finite")
    if idx.size and idx.min() < 0:
        raise ValueError("customer_idx must be >= 0")
    if n_customers is None:
        n_customers = int(idx.max()) + 1 if idx.size else 0
    if idx.size and idx.max() >= n_customers:
        raise ValueError("customer_idx must be < n_customers")
    as_of_day = float(to_day_numbers(as_of))

    keep = days <= as_of_day
    n_ignored = int(keep.size - np.count_nonzero(keep))
    if n_ignored:
        idx, days, amt = idx[keep], days[keep], amt[keep]

    n = int(n_customers)
    freq = np.zeros(n)
    rec = np.zeros(n)
    big_t = np.zeros(n)
    mon = np.zeros(n)
    total = np.zeros(n)
    ntx = np.zeros(n, dtype=np.int64)
    first = np.full(n, np.nan)
    last = np.full(n, np.nan)
    has = np.zeros(n, dtype=np.bool_)
    if idx.size:
        # One int64 key (customer, day) sorts faster than lexsort; skip the sort if the
        # caller (typically an ORDER BY query) already delivered sorted rows.
        day0 = days.min()
        span = days.max() - day0 + 1.0
        key = idx * np.int64(span) + (days - day0).astype(np.int64)
        if key.size > 1 and not np.all(key[1:] >= key[:-1]):
            order = np.argsort(key, kind="stable")
            key, idx, days, amt = key[order], idx[order], days[order], amt[order]
        # Same customer + same day -> one transaction.
        new_tx = np.empty(key.size, dtype=np.bool_)
        new_tx[0] = True
        np.not_equal(key[1:], key[:-1], out=new_tx[1:])
        tx_start = np.flatnonzero(new_tx)
        tx_cust = idx[tx_start]
        tx_day = days[tx_start]
        tx_amt = np.add.reduceat(amt, tx_start)
        new_c = np.empty(tx_cust.size, dtype=np.bool_)
        new_c[0] = True
        np.not_equal(tx_cust[1:], tx_cust[:-1], out=new_c[1:])
        c_start = np.flatnonzero(new_c)
        c_end = np.append(c_start[1:], tx_cust.size) - 1
        cust = tx_cust[c_start]
        n_tx = c_end - c_start + 1
        tot = np.add.reduceat(tx_amt, c_start)
        rep = n_tx - 1
        # Mean of repeat transactions = (total - first) / x; 0 for one-time buyers.
        mean_rep = np.divide(tot - tx_amt[c_start], rep, out=np.zeros(rep.size), where=rep > 0)
        first[cust] = tx_day[c_start]
        last[cust] = tx_day[c_end]
        freq[cust] = rep
        rec[cust] = (tx_day[c_end] - tx_day[c_start]) / unit
        big_t[cust] = (as_of_day - tx_day[c_start]) / unit
        mon[cust] = mean_rep
        total[cust] = tot
        ntx[cust] = n_tx
        has[cust] = True
    return CustomerSummary(
        frequency=freq,
        recency=rec,
        T=big_t,
        monetary_value=mon,
        total_spent=total,
        n_transactions=ntx,
        first_day=first,
        last_day=last,
        has_purchase=has,
        as_of_day=as_of_day,
        time_unit_days=unit,
        n_ignored_after_as_of=n_ignored,
    )
