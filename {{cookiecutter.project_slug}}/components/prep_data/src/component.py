"""prep_data as a Python function: the component is this function, decorated with mldesigner.

Azure ML and `amlctl run --local` run it as `mldesigner execute --source component.py --name
prep_data ...` in this folder; the work is done by prep_data.py, the same script (and tests) as
a YAML-defined component. pipelines/training.py uses the function directly; ../component.yml
describes the same component for the YAML pipelines and for publishing, and
../tests/test_component.py checks the two agree.
"""

from pathlib import Path

from mldesigner import Input, Output, command_component

PROJECT = Path(__file__).resolve().parents[3]
IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest"
CONDA = PROJECT / "environments" / "sklearn" / "conda.yml"
# The environment matters where the component is built (pipelines, tests, submit). Where the
# step runs (`mldesigner execute` in a copy of src/), the project's folders are not there.
ENVIRONMENT = {"image": IMAGE, "conda_file": str(CONDA)} if CONDA.is_file() else {"image": IMAGE}


@command_component(
    name="prep_data",
    version="1",
    display_name="Prepare data",
    description=(
        "Reads every CSV file of the raw data folder, drops rows without a target and splits "
        "them into train/test.csv with a fixed seed (stratified for classification)."
    ),
    is_deterministic=True,
    environment=ENVIRONMENT,
)
def prep_data(
    raw_data: Input(
        type="uri_folder",
        description="Folder of CSV files with the same columns, one of them the target.",
    ),
    train_data: Output(type="uri_folder", description="train.csv"),
    test_data: Output(type="uri_folder", description="test.csv"),
    target_column: Input(type="string", default="target") = "target",
    task: Input(
        type="string", default="classification", enum=["classification", "regression"]
    ) = "classification",
    test_fraction: Input(type="number", default=0.2, min=0.05, max=0.9) = 0.2,
    seed: Input(type="integer", default=42) = 42,
):
    # Imported when the step runs: mldesigner puts this folder on sys.path for it.
    from prep_data import main

    argv = [
        *("--raw_data", str(raw_data), "--target_column", target_column, "--task", task),
        *("--test_fraction", str(test_fraction), "--seed", str(seed)),
        *("--train_data", str(train_data), "--test_data", str(test_data)),
    ]
    code = main(argv)
    if code:
        raise SystemExit(code)
