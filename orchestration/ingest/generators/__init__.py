"""Seeded synthetic generators for the CRM export contracts."""
