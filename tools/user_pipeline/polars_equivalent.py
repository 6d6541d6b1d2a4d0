#!/usr/bin/env python3
"""The same tasks in plain Python polars, timed in one process
(`tools/user_pipeline.sh` runs it when PYTHON names an interpreter with polars).
A second argument, a European export, adds the `ExportPipeline`'s two tasks."""
import sys
import time

import polars as pl

path = sys.argv[1]
typed = {"TotalPurchaseAmount": pl.Float64, "NumberOfPurchases": pl.Int64}


def scan():
    return pl.scan_csv(path, infer_schema=False, schema_overrides=typed)


clock = time.perf_counter()
customers = scan().select(
    "Name", "Country", "Gender", "TotalPurchaseAmount",
    (pl.col("TotalPurchaseAmount") / pl.col("NumberOfPurchases").cast(pl.Float64)).alias("PerPurchase"),
).collect(engine="streaming")
print(f"polars customers {time.perf_counter() - clock:.3f} s")
clock = time.perf_counter()
customers.lazy().group_by("Country").agg(
    pl.col("TotalPurchaseAmount").mean().alias("MeanAmount"), pl.len().alias("Customers")
).sort("Country").collect()
print(f"polars by_country {time.perf_counter() - clock:.3f} s")
del customers
clock = time.perf_counter()
scan().group_by("Country", "Gender").agg(
    pl.col("TotalPurchaseAmount").mean().alias("MeanAmount"),
    pl.col("NumberOfPurchases").sum().alias("Purchases"),
    pl.len().alias("Customers"),
).sort("Country", "Gender").collect(engine="streaming")
print(f"polars direct {time.perf_counter() - clock:.3f} s")
clock = time.perf_counter()
scan().select(
    pl.col("TotalPurchaseAmount").median().alias("MedianAmount"),
    pl.col("NumberOfPurchases").sum().alias("Purchases"),
    pl.col("TotalPurchaseAmount").mean().alias("MeanAmount"),
).collect(engine="streaming")
print(f"polars overall {time.perf_counter() - clock:.3f} s")

if len(sys.argv) > 2:
    export = sys.argv[2]

    def scan_export():
        return pl.scan_csv(export, separator=";", decimal_comma=True, null_values="NA")

    clock = time.perf_counter()
    scan_export().select(
        "Country", "Gender",
        (pl.col("TotalPurchaseAmount") / pl.col("NumberOfPurchases").cast(pl.Float64)).alias("PerPurchase"),
        "AverageReviewScore",
    ).collect(engine="streaming")
    print(f"polars export_customers {time.perf_counter() - clock:.3f} s")
    clock = time.perf_counter()
    scan_export().group_by("Country").agg(
        pl.col("TotalPurchaseAmount").median().alias("MedianAmount"),
        pl.col("AverageReviewScore").mean().alias("MeanScore"),
        pl.col("AverageReviewScore").null_count().alias("Unscored"),
        pl.len().alias("Customers"),
    ).sort("Country").collect(engine="streaming")
    print(f"polars export_by_country {time.perf_counter() - clock:.3f} s")
