"""One exception type for problems the user can fix: the CLI prints them as one line, without a traceback."""


class FunnelError(Exception):
    """A user-facing error with a cause and a hint on what to do about it."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint
