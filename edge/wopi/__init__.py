"""The WOPI REST endpoints under /wopi/files/{file_id}."""
