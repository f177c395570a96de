"""Use cases. Each public function owns its transaction and returns plain data.

Services never import telegram; they raise ServiceError subclasses with a stable `code`
that handlers turn into a message in the user's language.
"""

from __future__ import annotations


class ServiceError(Exception):
    """A refusal the user should be told about; `code` selects the message."""

    code: str = "error"

    def __init__(self, code: str | None = None, **details: object) -> None:
        super().__init__(code or self.code)
        if code:
            self.code = code
        self.details = details


class NotAllowed(ServiceError):
    code = "not_allowed"


class NotFound(ServiceError):
    code = "not_found"


class InvalidInput(ServiceError):
    code = "invalid"
