#!/usr/bin/env python3
"""A customer CSV unlike `customer-analysis generate`'s, for the demo.

    python3 customer-analysis/compare/quirky_csv.py ROWS OUT [--seed N]

Standard library only. What differs from the built-in generator: the
columns in another order with two extra ones (an `Email` first, a free-text
`Notes` last), quoted fields holding commas, escaped quotes ("") and line
breaks, quoted numbers, empty cells (nulls) in the amount and review
columns, Windows line ends (\\r\\n), and other distributions (Python's
`random`, not the Rust generator's). The demo reads only its four columns by
name; everything else must pass through untouched.
"""

import argparse
import random

COUNTRIES = ["Korea, Republic of", "France", "Côte d'Ivoire", "Brazil", "Japan", "Bonaire, Sint Eustatius and Saba"]
NOTES = [
    "",
    "prefers email, not phone",
    'said "call me later", twice',
    "moved\nto a new address",
    "vip; see ticket #42, #43",
]


def quote(field: str, force: bool) -> str:
    """A CSV field, quoted (inner quotes doubled) where needed or forced."""
    if force or any(c in field for c in ',"\r\n'):
        return '"' + field.replace('"', '""') + '"'
    return field


def line(fields: list, force_quotes: bool = False) -> str:
    return ",".join(quote(f, force_quotes) for f in fields) + "\r\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", type=int)
    parser.add_argument("out")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with open(args.out, "w", newline="", encoding="utf-8") as f:
        f.write(line([
            "Email", "CustomerID", "Country", "TotalPurchaseTime", "NumberOfPurchases",
            "AverageReviewScore", "TotalPurchaseAmount", "Notes",
        ]))
        for i in range(1, args.rows + 1):
            amount = "" if rng.random() < 0.01 else f"{rng.lognormvariate(6.8, 0.6):.2f}"
            review = "" if rng.random() < 0.01 else f"{rng.uniform(1, 5):.1f}"
            purchases = str(rng.randint(1, 80))
            time = str(rng.randint(10, 2000))
            row = [
                f"user{i}@example.com", str(i), rng.choice(COUNTRIES), time, purchases,
                review, amount, rng.choice(NOTES),
            ]
            # Now and then a number in quotes: the reader must unquote it.
            f.write(line(row, force_quotes=rng.random() < 0.1))


if __name__ == "__main__":
    main()
