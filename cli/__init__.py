"""The `wopi-proxy` console script: run the services, or talk to a running control plane."""
