"""The WOPI edge: stateless HTTP between editors and tenant storage."""
