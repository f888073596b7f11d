"""What the control plane and the edge both import: generated protos, errors, storage, helpers."""
