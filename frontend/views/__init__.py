"""The server-rendered pages, one module per area, thin over the services and selectors."""
