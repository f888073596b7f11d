"""The gRPC transport: servicers that convert between protos and the services, one error boundary."""
