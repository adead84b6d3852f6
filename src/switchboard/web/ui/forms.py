"""Form outcomes: a service or validation failure shown next to the form that caused it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from dataclasses import field as field_default
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from switchboard.bootstrap import Container
from switchboard.portal.errors import Forbidden, NotFound, PortalError
from switchboard.portal.input_problems import (
    InvalidInput,
    Labels,
    Problem,
    problems_in,
    problems_of,
    reword,
)
from switchboard.portal.validation import from_pydantic

T = TypeVar("T")


@dataclass(frozen=True)
class FormError:
    """What a submit got wrong: a summary, and a message for each input at fault.

    Templates ask ``error.on(name)`` for the message under an input; ``field`` is the first input
    at fault (the one that receives focus); ``problems`` lists every (input, message) in the
    order the form shows them, for the summary at the top of the form.
    """

    message: str
    field: str | None  # the form input to highlight first
    fields: Mapping[str, str] = field_default(default_factory=dict)
    problems: tuple[tuple[str | None, str], ...] = ()

    def __post_init__(self) -> None:
        # Messages written for the API ("user: choose ...") are reworded for a person.
        if self.field and not self.problems:
            worded = reword(self.message, self.field)
            object.__setattr__(self, "message", worded)
            object.__setattr__(self, "problems", ((self.field, worded),))
        elif not self.problems:
            object.__setattr__(self, "message", reword(self.message, None))

    @classmethod
    def of(cls, exc: PortalError, labels: Labels | None = None) -> FormError:
        """Every problem of ``exc`` in words, each under the input that shows it, in the order
        of ``labels`` (the form's inputs, top to bottom)."""
        found = [(input_name(p.field), p.message(labels)) for p in problems_in(exc)]
        order = list(labels or {})
        found.sort(key=lambda item: order.index(item[0]) if item[0] in order else len(order))
        fields: dict[str, str] = {}
        for name, message in found:
            if name:
                fields[name] = f"{fields[name]} {message}" if name in fields else message
        first = next((name for name, _ in found if name), None)
        summary = found[0][1] if len(found) == 1 else f"{len(found)} problems need fixing"
        return cls(message=summary, field=first, fields=fields, problems=tuple(found))

    @property
    def several(self) -> bool:
        return len(self.problems) > 1

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


def attempt(
    container: Container, change: Callable[..., T], labels: Labels | None = None
) -> T | FormError:
    """Run ``change(session)`` in its own unit of work; on a fixable error roll back and say why.

    Access errors (403/404) are not form errors: they propagate to the error page. ``labels``
    names the form's fields as it shows them (else their names are put in words).
    """
    try:
        with container.unit_of_work() as session:
            return change(session)
    except ValidationError as exc:
        return FormError.of(from_pydantic(exc), labels)
    except (Forbidden, NotFound) as exc:
        if exc.field is None:
            raise
        return FormError.of(exc, labels)
    except PortalError as exc:
        return FormError.of(exc, labels)


M = TypeVar("M", bound=BaseModel)


def checked(model: type[M], data: Mapping[str, object], *checks: Callable[[], object]) -> M:
    """``model`` from ``data``; the problems pydantic finds and those of ``checks`` (rules that
    need the account, like the extension length) are reported together, not one per submit."""
    problems = []
    result: M | None = None
    try:
        result = model.model_validate(data)
    except ValidationError as exc:
        problems += problems_of(exc)
    for check in checks:
        try:
            check()
        except PortalError as exc:
            problems += problems_in(exc)
    if result is None or problems:
        # One problem per field: a check may repeat what the model already said.
        unique: dict[str | None, Problem] = {}
        for problem in problems:
            unique.setdefault(problem.field, problem)
        problems = list(unique.values())
        first = problems[0]
        raise InvalidInput(first.message(), field=first.field, problems=problems)
    return result
