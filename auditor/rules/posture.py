"""Issue 7's rule modules (vulnerabilities, site policy, privacy), registered together."""

from auditor.rules import privacy, sitepolicy, vuln  # noqa: F401 (registers)
