"""Persistence: SQLModel tables and the store functions over them (they never commit)."""
