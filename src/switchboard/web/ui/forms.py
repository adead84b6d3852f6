"""Form outcomes: a service or validation failure shown next to the form that caused it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from dataclasses import field as field_default
from typing import TypeVar

from pydantic import ValidationError

from switchboard.bootstrap import Container
from switchboard.portal.errors import Forbidden, NotFound, PortalError
from switchboard.portal.validation import from_pydantic

T = TypeVar("T")


@dataclass(frozen=True)
class FormError:
    """What a submit got wrong: a summary, and a message for each input at fault.

    Templates ask ``error.on(name)`` for the message under an input; ``field`` is the first input
    at fault (the one that receives focus).
    """

    message: str
    field: str | None  # the form input to highlight first
    fields: Mapping[str, str] = field_default(default_factory=dict)

    @classmethod
    def of(cls, exc: PortalError) -> FormError:
        name = input_name(exc.field)
        return cls(message=exc.message, field=name, fields={name: exc.message} if name else {})

    def on(self, name: str) -> str | None:
        """The message to show under input ``name``, if it is at fault."""
        if name in self.fields:
            return self.fields[name]
        return self.message if name == self.field else None


def input_name(field: str | None) -> str | None:
    """Map a service/pydantic field path (address.city, phone_numbers.0) to a form input."""
    if not field:
        return None
    parts = field.split(".")
    if parts[0] == "address" and len(parts) > 1:
        return parts[1]
    return parts[0]


def attempt(container: Container, change: Callable[..., T]) -> T | FormError:
    """Run ``change(session)`` in its own unit of work; on a fixable error roll back and say why.

    Access errors (403/404) are not form errors: they propagate to the error page.
    """
    try:
        with container.unit_of_work() as session:
            return change(session)
    except ValidationError as exc:
        return FormError.of(from_pydantic(exc))
    except (Forbidden, NotFound) as exc:
        if exc.field is None:
            raise
        return FormError.of(exc)
    except PortalError as exc:
        return FormError.of(exc)
