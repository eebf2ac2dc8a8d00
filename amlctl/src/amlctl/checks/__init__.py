"""Offline checks of the project's infrastructure code and CI workflows."""
