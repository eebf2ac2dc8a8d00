"""Many-models style: one mini-batch per (store, item) partition, a forecast per partition."""

import argparse

import pandas as pd

args = None


def init():
    global args
    parser = argparse.ArgumentParser()
    parser.add_argument("--horizon", type=int, default=1)
    args, _ = parser.parse_known_args()


def run(mini_batch, mini_batch_context):
    key = mini_batch_context.partition_key_value
    growth = mini_batch["units"].diff().mean()
    forecast = mini_batch["units"].iloc[-1] + growth * args.horizon
    return pd.DataFrame([{"store": key["store"], "item": key["item"], "forecast": forecast}])
