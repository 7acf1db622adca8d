"""HTTP routes: each page has a JSON twin under ``/api`` built from the same query."""
