"""The control plane's core: one function per use case, each owning its transaction."""
