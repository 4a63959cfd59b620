"""Moved to `webapp.database`; re-exported here only until `services/registrations.py`
imports from there."""

from webapp.database import compile_for_driver, insert_skipping_conflicts, run_alone

__all__ = ["compile_for_driver", "insert_skipping_conflicts", "run_alone"]
