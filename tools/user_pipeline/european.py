#!/usr/bin/env python3
"""A European export of a customer CSV: `;` between fields, decimal commas
(`1727,51`) and `NA` for a missing value, for measuring a user's scan of
such a file (the `ExportPipeline` of `tools/user_pipeline/`):

    python3 tools/user_pipeline/european.py customers.csv customers_european.csv

Needs Python polars. The amounts and times are floats, written with a
decimal comma; the review score of customers whose id ends in 9 is missing
(`NA`), and so is any cell empty in the source. Fields are quoted only where
needed.
"""
import sys

import polars as pl

source, target = sys.argv[1], sys.argv[2]
frame = pl.read_csv(
    source,
    infer_schema=False,
    schema_overrides={
        "TotalPurchaseAmount": pl.Float64,
        "NumberOfPurchases": pl.Int64,
        "TotalPurchaseTime": pl.Float64,
        "AverageReviewScore": pl.Float64,
    },
)
frame = frame.with_columns(
    pl.when(pl.col("CustomerID").str.ends_with("9"))
    .then(None)
    .otherwise(pl.col("AverageReviewScore"))
    .alias("AverageReviewScore")
)
frame.write_csv(
    target, separator=";", decimal_comma=True, null_value="NA", quote_style="necessary"
)
