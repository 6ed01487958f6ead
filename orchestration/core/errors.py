"""One exception type for problems the user can fix: the CLI prints them as one line, without a traceback.

Exit codes of `funnel` (README "Exit codes"), so that a scheduler can tell outcomes apart.
"""

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1  # a FunnelError: bad input, a failed build or check
    AUDIT_MISMATCH = 2  # funnel reconcile found a difference
    SERVER_STOPPED = 3  # funnel db status: the embedded server is not running
    REJECTED = 4  # finished, but lines or whole files were rejected (raw.load_rejects)
    NOTHING_SELECTED = 5  # a --select / KPI / mart matched nothing to build
    NO_ROWS = 6  # the query or export ran and returned no rows for its filters


class FunnelError(Exception):
    """A user-facing error with a cause and a hint on what to do about it."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint
