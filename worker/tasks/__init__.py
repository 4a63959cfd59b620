"""Celery tasks by domain. Thin: ids in, one service call."""
