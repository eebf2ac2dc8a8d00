"""Tooling of {{ cookiecutter.project_name }}: validate, run locally, provision, register, publish."""

__version__ = "0.1.0"
