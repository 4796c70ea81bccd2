from decimal import Decimal

SYMBOLS = {"CNY": "¥", "USD": "$", "EUR": "€", "HKD": "HK$", "GBP": "£", "JPY": "¥"}


# Between a sign and the currency symbol: a word joiner, so a sentence never wraps a loss
# as "-" at the end of one line and "¥280.00" at the start of the next.
_JOIN = "\u2060"


def format_money(
    amount: Decimal | float | int | None, currency: str = "CNY", *, signed: bool = False
) -> str:
    """¥1,234.50; a loss as -¥20.00 (the sign before the symbol, never apart from it); with
    `signed`, a gain as +¥20.00."""
    value = Decimal(str(amount or 0)).quantize(Decimal("0.01"))
    shown = f"{SYMBOLS.get(currency, currency + ' ')}{abs(value):,.2f}"
    if value < 0:
        return f"-{_JOIN}{shown}"
    return f"+{_JOIN}{shown}" if signed else shown


# The largest single sale (or cost) we accept, in the business's currency. A micro business
# never sells ¥1,000,000 in one purchase; anything above is a typo or an attack, refused with a
# clear message on every surface (admin, import, API). Derived money columns are sized for the
# sum of many such values.
AMOUNT_MAX = Decimal("1000000.00")
