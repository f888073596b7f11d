"""Alembic's script directory: env.py, the revision template and versions/ (one module per
revision). Run through control.db.schema (the control plane, `wopi-proxy db upgrade`), never
through an alembic.ini."""
