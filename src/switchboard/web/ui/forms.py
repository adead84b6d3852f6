"""Form outcomes: a service or validation failure shown next to the form that caused it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from pydantic import ValidationError

from switchboard.bootstrap import Container
from switchboard.portal.errors import Forbidden, NotFound, PortalError
from switchboard.portal.validation import from_pydantic

T = TypeVar("T")


@dataclass(frozen=True)
class FormError:
    message: str
    field: str | None  # the form input to highlight

    @classmethod
    def of(cls, exc: PortalError) -> FormError:
        return cls(message=exc.message, field=input_name(exc.field))


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
