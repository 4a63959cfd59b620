"""Certificates of attendance."""
