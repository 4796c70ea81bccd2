from decimal import Decimal

SYMBOLS = {"CNY": "¥", "USD": "$", "EUR": "€", "HKD": "HK$", "GBP": "£", "JPY": "¥"}


def format_money(amount: Decimal | int | None, currency: str = "CNY") -> str:
    value = Decimal(amount or 0)
    return f"{SYMBOLS.get(currency, currency + ' ')}{value:,.2f}"
