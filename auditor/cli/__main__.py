"""`python -m auditor.cli` runs the camaudit CLI (same as the `camaudit` script)."""

from auditor.cli import main

main()
