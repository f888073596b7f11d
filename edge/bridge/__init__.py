"""The bridge: non-WOPI collaborative apps (Etherpad, CodiMD, a Yjs server) edit files through our
own WOPI endpoints. docs/BRIDGE.md is the design; the control plane owns every bit of state, the edge
only talks to the apps (apps/) and moves bytes (worker)."""
