"""The control plane: the only owner of state (tenants, keys, storages, sessions, files, audit)."""
