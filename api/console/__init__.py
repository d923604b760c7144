"""The marketer's web console at /console: server-rendered pages (Jinja2, SVG charts, a small
script of our own) over the same services the API calls, and the offline /docs and /redoc."""
