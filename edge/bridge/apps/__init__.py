"""One module per bridged app kind, each implementing edge.bridge.apps.base.BridgedApp."""
