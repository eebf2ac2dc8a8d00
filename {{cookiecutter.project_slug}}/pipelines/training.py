"""The training pipeline written in Python with azure-ai-ml's @dsl.pipeline.

The same job as training.yml (tests/test_pipelines.py checks both build the same graph), for
teams that prefer Python: run it with the same commands,
    amlctl run pipelines/training.py --local
    amlctl submit pipelines/training.py --env dev
(or name the job: pipelines/training.py:pipeline_job). Components come from their YAML with
load_component{% if cookiecutter.component_style == "python" %}, prep_data from its Python function (components/prep_data/src/component.py){% endif %};
the data-quality gate, a bash script, is built here with command() to show that form too.
"""

# No `from __future__ import annotations` here: @dsl.pipeline reads the annotations at run time.
{%- if cookiecutter.component_style == "python" %}
import importlib.util
{%- endif %}
from pathlib import Path

from azure.ai.ml import Input, Output, command, dsl, load_component
{%- if cookiecutter.spark_step %}
from azure.ai.ml.entities import (
    Environment,
    ManagedIdentityConfiguration,
    SparkResourceConfiguration,
)
{%- else %}
from azure.ai.ml.entities import Environment
{%- endif %}

PROJECT = Path(__file__).resolve().parents[1]
COMPONENTS = PROJECT / "components"
# The project environment (environments/sklearn): its image and conda file, as in component.yml
ENVIRONMENT = Environment(
    image="mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest",
    conda_file=str(PROJECT / "environments" / "sklearn" / "conda.yml"),
)
SAMPLE_DATA = Input(type="uri_folder", path=str(PROJECT / "data" / "sample"))
{%- if cookiecutter.component_style == "python" %}


def python_component(path: Path, name: str):
    """A component function decorated with mldesigner's @command_component, from its file."""
    spec = importlib.util.spec_from_file_location(f"{path.parent.parent.name}_component", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)


prep_data_component = python_component(
    COMPONENTS / "prep_data" / "src" / "component.py", "prep_data"
)
{%- else %}

prep_data_component = load_component(source=COMPONENTS / "prep_data" / "component.yml")
{%- endif %}
{%- if cookiecutter.spark_step %}
spark_features_component = load_component(source=COMPONENTS / "spark_features" / "component.yml")
{%- endif %}
train_component = load_component(source=COMPONENTS / "train" / "component.yml")
evaluate_component = load_component(source=COMPONENTS / "evaluate" / "component.yml")
register_model_component = load_component(source=COMPONENTS / "register_model" / "component.yml")

# A component around a program that is not Python, built with command() (Azure ML SDK v2):
# the same component as components/data_quality_gate/component.yml.
data_quality_gate_component = command(
    name="data_quality_gate",
    display_name="Data-quality gate",
    description=(
        "Checks the schema (named, unique columns, the target column, the same columns in "
        "train and test, a full row everywhere) and the row counts of the prepared data, and "
        "passes it on unchanged only when every check holds."
    ),
    code=COMPONENTS / "data_quality_gate" / "src",
    command=(
{%- raw %}
        "bash check_data.sh"
        " --train_data ${{inputs.train_data}}"
        " --test_data ${{inputs.test_data}}"
        " --target_column ${{inputs.target_column}}"
        " --min_rows ${{inputs.min_rows}}"
        " --train_data_checked ${{outputs.train_data_checked}}"
        " --test_data_checked ${{outputs.test_data_checked}}"
{%- endraw %}
    ),
    inputs={
        "train_data": Input(type="uri_folder", description="train.csv, from prep_data"),
        "test_data": Input(type="uri_folder", description="test.csv, from prep_data"),
        "target_column": Input(type="string", default="target"),
        "min_rows": Input(type="integer", default=20, min=1),
    },
    outputs={
        "train_data_checked": Output(
            type="uri_folder", description="train.csv, unchanged, once it passed every check"
        ),
        "test_data_checked": Output(
            type="uri_folder", description="test.csv, unchanged, once it passed every check"
        ),
    },
    environment=ENVIRONMENT,
    is_deterministic=True,
)


@dsl.pipeline(
    display_name="{{ cookiecutter.project_slug }} training",
    experiment_name="{{ cookiecutter.project_slug }}-training",
    description=(
        "Prepares the raw data, trains a gradient boosting model, evaluates it and registers "
        "it when it is good enough."
    ),
    tags={"project": "{{ cookiecutter.project_slug }}", "task": "{{ cookiecutter.ml_task }}", "pipeline": "training"},
    default_compute="azureml:{{ cookiecutter.__cpu_cluster }}",
    force_rerun=False,
    continue_on_step_failure=False,
)
def training(
    raw_data: Input,
    task: str = "{{ cookiecutter.ml_task }}",
    target_column: str = "target",
    test_fraction: float = 0.2,
    seed: int = 42,
    n_estimators: int = 100,
    max_depth: int = 3,
    learning_rate: float = 0.1,
    # accuracy for classification, R2 for regression
    promotion_threshold: float = {% if cookiecutter.ml_task == "classification" %}0.9{% else %}0.3{% endif %},
    model_name: str = "{{ cookiecutter.project_slug }}-model",
{%- if cookiecutter.spark_step %}
    # a non-negative column more skewed than this gets a log1p companion (spark_features)
    skew_threshold: float = 0.75,
{%- endif %}
):
    """{% if cookiecutter.spark_step %}spark_features -> {% endif %}prep_data -> data_quality_gate -> train -> evaluate -> register_model."""
{%- if cookiecutter.spark_step %}
    # Feature engineering on serverless Spark; `run --local` runs it on local-mode pyspark.
    spark_features = spark_features_component(
        raw_data=raw_data,
        target_column=target_column,
        skew_threshold=skew_threshold,
    )
    spark_features.outputs.features.mode = "direct"
    spark_features.resources = SparkResourceConfiguration(
        instance_type="standard_e4s_v3", runtime_version="3.4"
    )
    # the user-assigned identity attached to the workspace reads and writes the data
    spark_features.identity = ManagedIdentityConfiguration()
{%- endif %}
    prep_data = prep_data_component(
        raw_data={% if cookiecutter.spark_step %}spark_features.outputs.features{% else %}raw_data{% endif %},
        target_column=target_column,
        task=task,
        test_fraction=test_fraction,
        seed=seed,
    )
    data_quality_gate = data_quality_gate_component(
        train_data=prep_data.outputs.train_data,
        test_data=prep_data.outputs.test_data,
        target_column=target_column,
    )
    train = train_component(
        train_data=data_quality_gate.outputs.train_data_checked,
        target_column=target_column,
        task=task,
        n_estimators=n_estimators,
        max_depth=max_depth,
        learning_rate=learning_rate,
        seed=seed,
    )
    evaluate = evaluate_component(
        model=train.outputs.model,
        test_data=data_quality_gate.outputs.test_data_checked,
        target_column=target_column,
        task=task,
        promotion_threshold=promotion_threshold,
    )
    register_model = register_model_component(
        model=train.outputs.model,
        evaluation=evaluate.outputs.evaluation,
        model_name=model_name,
    )
    return {
        "model": train.outputs.model,
        "evaluation": evaluate.outputs.evaluation,
        "registration": register_model.outputs.registration,
    }


# The job the commands run: the pipeline with the sample data set as its raw data. A data input
# has no default in a @dsl.pipeline function; give other data with `--set raw_data=PATH`.
pipeline_job = training(raw_data=SAMPLE_DATA)
