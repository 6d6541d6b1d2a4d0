#!/usr/bin/env python3
"""The customer-analysis pipeline on the seed tutorial's own stack: Taipy + Dask + pandas.

Replays the seed tutorial's section 6 (the same five steps as
`customer-analysis tour`) with Taipy's scenario management deciding what to
skip, and writes one JSON object (per step: seconds of `scenario.submit()`,
per-task status, and the results read back afterwards) to `--json PATH`.

The four task functions follow the tutorial's `algos/algo.py`: task 1 reads
the CSV with Dask and `.compute()`s the scored frame into pandas; tasks 2-4
are pandas. Data nodes are Taipy's default (pickle files). Task 4 is wired as
the function means it (`segmented_customer_df, segment_result`); the seed's
config swapped those two frames.

Differences from the seed, all to make the numbers comparable with the Rust
and polars implementations (see README.md):
- `dd.read_csv` gets explicit dtypes for the four input columns
  (`NumberOfPurchases` int64, the other three float64), as the Rust side reads
  them; the seed lets Dask infer them.
- No prints or timers inside the tasks (the seed prints `Time of Execution`).
"""

import argparse
import json
import math
import os
import sys
import tempfile
import time

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd

INPUT_DTYPES = {
    "TotalPurchaseAmount": "float64",
    "NumberOfPurchases": "int64",
    "TotalPurchaseTime": "float64",
    "AverageReviewScore": "float64",
}


# --- the four tasks (plain Python, no Taipy) ---------------------------------


def preprocess_and_score(path_to_original_data):
    df = dd.read_csv(path_to_original_data, dtype=INPUT_DTYPES)
    df["CUSTOMER_SCORE"] = (
        0.5 * df["TotalPurchaseAmount"] / 1000
        + 0.3 * df["NumberOfPurchases"] / 10
        + 0.2 * df["AverageReviewScore"]
    )
    scored_df = df[["CUSTOMER_SCORE", "TotalPurchaseAmount", "NumberOfPurchases", "TotalPurchaseTime"]]
    return scored_df.compute()


def featurization_and_segmentation(scored_df, payment_threshold, score_threshold):
    df = scored_df
    df["HighSpender"] = (df["TotalPurchaseAmount"] > payment_threshold).astype("int64")
    df["AverageTimeBetweenPurchases"] = df["TotalPurchaseTime"] / df["NumberOfPurchases"]
    df["Interaction1"] = df["TotalPurchaseAmount"] * df["NumberOfPurchases"]
    df["Interaction2"] = df["TotalPurchaseTime"] * df["CUSTOMER_SCORE"]
    df["PolynomialFeature"] = df["TotalPurchaseAmount"] ** 2
    df["ValueSegment"] = np.where(df["CUSTOMER_SCORE"] > score_threshold, "High Value", "Low Value")
    return df


def segment_analysis(df, metric):
    return (
        df.groupby("ValueSegment")
        .agg(
            {
                "CUSTOMER_SCORE": metric,
                "TotalPurchaseAmount": metric,
                "NumberOfPurchases": metric,
                "TotalPurchaseTime": metric,
                "HighSpender": "sum",
                "AverageTimeBetweenPurchases": metric,
            }
        )
        .reset_index()
    )


def high_value_cust_summary_statistics(df, segment_result, summary_statistic_type):
    high_value = df[df["ValueSegment"] == "High Value"]
    average_purchase = high_value["TotalPurchaseAmount"].agg(summary_statistic_type)
    median_score = high_value["CUSTOMER_SCORE"].median()
    from_segments = segment_result[segment_result["ValueSegment"] == "High Value"]["TotalPurchaseAmount"]
    return pd.DataFrame(
        {
            "SummaryStatisticType": [summary_statistic_type],
            "AveragePurchaseHighValue": [average_purchase],
            "MedianScoreHighValue": [median_score],
            "SegmentAnalysisHighValue": [from_segments.values[0] if len(from_segments) else np.nan],
        }
    )


TASKS = [
    preprocess_and_score,
    featurization_and_segmentation,
    segment_analysis,
    high_value_cust_summary_statistics,
]

# The seed's section 6, as `customer-analysis tour` runs it: (label, node, value).
STEPS = [
    ("full run", None, None),
    ("payment_threshold = 1600", "payment_threshold", 1600.0),
    ("metric = median", "metric", "median"),
    ("summary_statistic_type = max", "summary_statistic_type", "max"),
    ("unchanged re-submit", None, None),
]


# --- Taipy configuration (the seed's config.py, Task 4 wired correctly) ------


def configure(csv_path, root_folder):
    from taipy import Config, Scope  # noqa: F401  (Scope: the seed's default, SCENARIO)

    # Taipy 4.1 uses storage_folder and taipy_storage_folder as given (relative
    # to the working directory, whatever root_folder says), so make them absolute.
    Config.configure_core(
        root_folder=root_folder,
        storage_folder=os.path.join(root_folder, "user_data", ""),
        taipy_storage_folder=os.path.join(root_folder, ".taipy", ""),
    )
    path_to_data = Config.configure_data_node(id="path_to_data", default_data=csv_path)
    payment_threshold = Config.configure_data_node(id="payment_threshold", default_data=1000.0)
    score_threshold = Config.configure_data_node(id="score_threshold", default_data=1.5)
    metric = Config.configure_data_node(id="metric", default_data="mean")
    summary_statistic_type = Config.configure_data_node(id="summary_statistic_type", default_data="median")
    scored_df = Config.configure_data_node(id="scored_df")
    segmented_customer_df = Config.configure_data_node(id="segmented_customer_df")
    segment_result = Config.configure_data_node(id="segment_result")
    high_value_summary_df = Config.configure_data_node(id="high_value_summary_df")

    tasks = [
        Config.configure_task(
            id="preprocess_and_score",
            function=preprocess_and_score,
            input=[path_to_data],
            output=[scored_df],
            skippable=True,
        ),
        Config.configure_task(
            id="featurization_and_segmentation",
            function=featurization_and_segmentation,
            input=[scored_df, payment_threshold, score_threshold],
            output=[segmented_customer_df],
            skippable=True,
        ),
        Config.configure_task(
            id="segment_analysis",
            function=segment_analysis,
            input=[segmented_customer_df, metric],
            output=[segment_result],
            skippable=True,
        ),
        Config.configure_task(
            id="high_value_cust_summary_statistics",
            function=high_value_cust_summary_statistics,
            input=[segmented_customer_df, segment_result, summary_statistic_type],
            output=[high_value_summary_df],
            skippable=True,
        ),
    ]
    return Config.configure_scenario(id="customer_analysis", task_configs=tasks)


# --- results as JSON (the shape of `customer-analysis run --json`) -----------


def number(value):
    if value is None:
        return None
    value = value.item() if hasattr(value, "item") else value
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def frame_rows(df):
    return [{k: (v if isinstance(v, str) else number(v)) for k, v in row.items()} for row in df.to_dict("records")]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="the customer CSV")
    parser.add_argument("--json", required=True, metavar="PATH", help="write the report here")
    args = parser.parse_args()
    csv_path = os.path.abspath(args.data)

    import taipy as tp
    from taipy import Orchestrator, Status

    with tempfile.TemporaryDirectory(prefix="taipy-compare-") as root:
        scenario_cfg = configure(csv_path, root + "/")
        orchestrator = Orchestrator()
        orchestrator.run()
        try:
            scenario = tp.create_scenario(scenario_cfg)
            assert scenario.data_nodes["scored_df"].path.startswith(root), "pickles must go to the temporary folder"
            steps = []
            for label, node, value in STEPS:
                if node is not None:
                    scenario.data_nodes[node].write(value)
                clock = time.perf_counter()
                submission = scenario.submit(wait=True)
                seconds = time.perf_counter() - clock
                jobs = {job.task.config_id: job for job in submission.jobs}
                statuses = []
                for task in TASKS:
                    job = jobs[task.__name__]
                    status = job.status
                    if status == Status.FAILED:
                        raise SystemExit(f"taipy job {task.__name__} failed: {job.stacktrace}")
                    statuses.append({"task": task.__name__, "status": status.name.lower()})
                steps.append(
                    {
                        "name": label,
                        "seconds": seconds,
                        "jobs": statuses,
                        "segment_result": frame_rows(scenario.data_nodes["segment_result"].read()),
                        "high_value_summary": frame_rows(scenario.data_nodes["high_value_summary_df"].read())[0],
                    }
                )
                print(
                    f"{label:<32}" + "".join(f"{j['status']:>11}" for j in statuses) + f"{seconds:>10.3f}",
                    file=sys.stderr,
                )
        finally:
            orchestrator.stop()

    report = {
        "implementation": "taipy+dask",
        "versions": {"taipy": tp_version(), "dask": dask.__version__, "pandas": pd.__version__},
        "steps": steps,
    }
    with open(args.json, "w") as out:
        json.dump(report, out)


def tp_version():
    from importlib.metadata import version

    return version("taipy-core")


if __name__ == "__main__":
    main()
