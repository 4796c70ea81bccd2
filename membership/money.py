"""Money and points arithmetic: Decimal to the cent, the rules of docs/membership.md."""

from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def cents(value: Decimal | int | str) -> Decimal:
    """Round to the cent, half away from zero (0.005 → 0.01), as a till does."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def points_for(amount: Decimal, per_yuan: Decimal) -> int:
    """Points earned on `amount`: fractions of a point are dropped, never rounded up."""
    if amount <= 0 or per_yuan <= 0:
        return 0
    return int((amount * per_yuan).to_integral_value(rounding=ROUND_DOWN))


def split_spend(amount: Decimal, principal: Decimal, bonus: Decimal) -> tuple[Decimal, Decimal]:
    """How a spend of `amount` from stored value divides into (paid, bonus) parts.

    In proportion to the two balances, the bonus part rounded to the cent half up and the
    paid part the rest, so the parts always add up to `amount` exactly and neither part
    exceeds its balance."""
    total = principal + bonus
    if amount <= 0 or total <= 0:
        return ZERO, ZERO
    from_bonus = cents(amount * bonus / total)
    from_bonus = min(from_bonus, bonus, amount)
    from_principal = amount - from_bonus
    if from_principal > principal:  # rounding pushed a cent past the paid part
        from_principal, from_bonus = principal, amount - principal
    return from_principal, from_bonus
