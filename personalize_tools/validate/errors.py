"""Errors that stop validate-data before it can judge the data (exit code 2).

Findings about the data itself are never exceptions: they are rule results in the report.
"""

from __future__ import annotations


class ValidateError(Exception):
    """Base class for everything validate-data raises."""


class UsageError(ValidateError):
    """Bad arguments or configuration: unknown domain, unreadable schema, unknown environment."""


class SchemaError(UsageError):
    """The Interactions schema the data is checked against is itself invalid; names the file and field."""


class SourceError(UsageError):
    """The input cannot be read: missing file, unknown bucket or key, no access, empty folder."""


class ScratchError(UsageError):
    """The exact counts' temporary files cannot be written or read back (disk full, directory gone).

    Not a SourceError: the input is fine, the machine's temporary directory is not.
    """
