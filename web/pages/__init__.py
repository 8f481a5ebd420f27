"""HTML pages (Jinja2 + htmx). Every form also works as a plain POST."""
