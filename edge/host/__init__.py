"""The host page: the editor in an iframe, its form posted into it (rest/online/hostpage)."""
