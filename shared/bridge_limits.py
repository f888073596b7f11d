"""Sizes of what bridged apps send, agreed between the edge (which reads the bodies) and the
control plane (which verifies and parses them)."""

# Every bridged app's event, webhook and redemption body, but a Hocuspocus `change` (which carries
# the whole document): those are never parsed past this size (control/services/bridge_events.py).
MAX_EVENT_BYTES = 64 << 10
