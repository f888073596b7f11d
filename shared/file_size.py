"""The default limit on a file's size, where neither its storage nor the operator set one."""

DEFAULT_MAX_FILE_SIZE = 1 << 30  # bytes: `--max-file-size` of the edge (and serve)
