from decimal import Decimal

SYMBOLS = {"CNY": "¥", "USD": "$", "EUR": "€", "HKD": "HK$", "GBP": "£", "JPY": "¥"}


def format_money(amount: Decimal | int | None, currency: str = "CNY") -> str:
    value = Decimal(amount or 0)
    return f"{SYMBOLS.get(currency, currency + ' ')}{value:,.2f}"


# The largest single sale (or cost) we accept, in the business's currency. A micro business
# never sells ¥1,000,000 in one purchase; anything above is a typo or an attack, refused with a
# clear message on every surface (admin, import, API). Derived money columns are sized for the
# sum of many such values.
AMOUNT_MAX = Decimal("1000000.00")
