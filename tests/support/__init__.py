"""Test helpers shared across test packages (not tests themselves)."""
