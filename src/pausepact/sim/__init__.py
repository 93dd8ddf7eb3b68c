"""Scenario simulator behind ``pausepact demo``."""

from .scenario import ScenarioResult, run_scenario

__all__ = ["ScenarioResult", "run_scenario"]
