"""Feature engineering on Spark: raw CSV files in, one CSV data set of features out.

Runs as the entry of the `spark_features` component: on Azure ML serverless Spark in the
workspace, and in local mode with `amlctl run --local` (pyspark and Java 17). The rules are
in feature_rules.py (shipped to the executors as a py_file); pandas computes the same
features in `feature_rules.engineer_pandas`, and a test checks both agree.
"""

from __future__ import annotations

import argparse
import sys

from feature_rules import LOG_PREFIX, ColumnStats, derived_columns, feature_columns


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw_data", required=True, help="folder of CSV files (path or URI)")
    parser.add_argument("--target_column", default="target")
    parser.add_argument("--skew_threshold", type=float, default=0.75)
    parser.add_argument("--features", required=True, help="output folder (path or URI)")
    return parser.parse_args(argv)


def engineer(raw, target_column: str, skew_threshold: float):
    """The features of a Spark DataFrame of raw rows, by the rules of feature_rules.py."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    columns = [name for name in raw.columns if not name.startswith("_")]
    features = feature_columns(columns, target_column)
    frame = raw.where(F.col(target_column).isNotNull())
    # keep the first of each set of duplicate rows, in file order
    first = Window.partitionBy(*columns).orderBy("_file", "_row")
    frame = frame.withColumn("_rank", F.row_number().over(first)).where("_rank = 1").drop("_rank")
    frame = frame.select(
        *[F.col(name).cast("double").alias(name) if name in features else name for name in columns],
        "_file",
        "_row",
    )
    means = frame.agg(*[F.mean(name).alias(name) for name in features]).first().asDict()
    frame = frame.fillna({name: value for name, value in means.items() if value is not None})
    aggregates = [F.min(name).alias(f"min:{name}") for name in features]
    aggregates += [F.skewness(name).alias(f"skew:{name}") for name in features]
    row = frame.agg(*aggregates).first().asDict()
    stats = {name: ColumnStats(row[f"min:{name}"], row[f"skew:{name}"]) for name in features}
    for name in derived_columns(stats, skew_threshold):
        frame = frame.withColumn(LOG_PREFIX + name, F.log1p(F.col(name)))
    return frame


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    spark = SparkSession.builder.appName("spark_features").getOrCreate()
    raw = (
        spark.read.option("header", True)
        .option("inferSchema", True)
        .option("pathGlobFilter", "*.csv")
        .csv(args.raw_data)
        .withColumn("_file", F.input_file_name())
        .withColumn("_row", F.monotonically_increasing_id())
    )
    frame = engineer(raw, args.target_column, args.skew_threshold)
    # ordered part files (part-00000, ...) keep the raw rows' order for the split downstream
    frame.orderBy("_file", "_row").drop("_file", "_row").write.mode("overwrite").option(
        "header", True
    ).csv(args.features)
    count = spark.read.option("header", True).csv(args.features).count()
    added = [name for name in frame.columns if name.startswith(LOG_PREFIX)]
    print(f"features: {count} rows, {len(frame.columns) - 2} columns ({len(added)} added)")
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
