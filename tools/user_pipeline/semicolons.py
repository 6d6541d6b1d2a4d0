#!/usr/bin/env python3
"""A `;`-separated copy of a customer CSV with a boolean column `Active`, for
measuring a user's scan that infers its types from such an export:

    python3 tools/user_pipeline/semicolons.py customers.csv customers_semicolons.csv

Needs Python polars. Every column is copied as text; `Active` is `true` for
customers whose id ends in 1, 3, 5 or 7. Fields are quoted only where needed.
"""
import sys

import polars as pl

source, target = sys.argv[1], sys.argv[2]
frame = pl.read_csv(source, infer_schema=False)
frame = frame.with_columns(
    pl.col("CustomerID").str.slice(-1).is_in(["1", "3", "5", "7"]).alias("Active")
)
frame.write_csv(target, separator=";", quote_style="necessary")
