"""Pseudonymised prediction log, feedback, daily drift summaries and retention.

SQLAlchemy 2 on SQLite (the embedded default) or PostgreSQL. Nothing here knows about Telegram:
callers pass plain values, and user ids only ever arrive here to be turned into keyed hashes.
"""
