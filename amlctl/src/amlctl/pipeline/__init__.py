"""The pipeline model, below every command that reads a pipeline (validate, run, submit).

``source`` turns a pipeline file (YAML, or Python with ``@dsl.pipeline``) into a loaded
azure-ai-ml job; ``nodes`` reads its nodes and components into ``graph``'s dataclasses
(``environments`` and ``automl`` for the parts that need more than a line); ``expand``
flattens pipeline components into steps; ``loader`` builds the graph once per content and
caches it. Data flows one way, from the file to the graph; nothing here runs a step.
"""
