"""The one error type of every YAML source fsapp reads (flows, campaigns, calendars,
routing, sound catalogs, flow tests): what is wrong, where (file, line, column) and what
to do about it."""
from __future__ import annotations

from pathlib import Path


class SourceError(ValueError):
    """Bad input at a position in a source file.

    str() is 'file:line: message' (with ':col' when the column is known and a file is
    named), or the bare message while the file is not yet known: the flow compiler and
    the campaign loader attach the file themselves when they turn the error into a
    Problem. `hint` says what to do; callers that print problems show it on its own.
    """

    def __init__(self, message: str, *, file: str | Path | None = None, line: int | None = None,
                 col: int | None = None, hint: str = ""):
        self.file = str(file) if file is not None else None
        self.line, self.col, self.message, self.hint = line, col, message, hint
        super().__init__(self._text())

    @property
    def path(self) -> str | None:  # the name calendar and routing code has always used
        return self.file

    @classmethod
    def at(cls, line: int, col: int, message: str, hint: str = "") -> "SourceError":
        """A position in a text whose file the caller names later."""
        return cls(message, line=line, col=col, hint=hint)

    @classmethod
    def in_file(cls, file: str | Path, line: int | None, message: str, hint: str = "") -> "SourceError":
        """A line of a named file (configuration files whose values keep lines only)."""
        return cls(message, file=file, line=line, hint=hint)

    def placed(self, file: str | Path) -> "SourceError":
        """This error in a named file: compose(text) knows line and column, the caller
        that read the text knows the file."""
        return SourceError(self.message, file=file, line=self.line, col=self.col, hint=self.hint)

    def report(self) -> str:
        """As the flow validator prints a problem: 'file:line:col: message', then the hint
        on its own line."""
        return str(self) + (f"\n    hint: {self.hint}" if self.hint else "")

    def _text(self) -> str:
        if self.file is None:
            return self.message
        where = self.file
        if self.line:
            where += f":{self.line}" + (f":{self.col}" if self.col else "")
        return f"{where}: {self.message}"
