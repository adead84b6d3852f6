"""What every CLI command shares: the container, error reporting and output."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from switchboard.bootstrap import Container, build
from switchboard.config import Settings
from switchboard.db.migrate import is_current
from switchboard.portal.actors import Actor, system_actor
from switchboard.portal.errors import PortalError
from switchboard.portal.validation import from_pydantic

console = Console()
err_console = Console(stderr=True)
M = TypeVar("M", bound=BaseModel)

JsonOption = typer.Option(False, "--json", help="Print JSON instead of a table.")


def cli_actor() -> Actor:
    import getpass

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return system_actor(f"cli:{user}")


NOT_MIGRATED = (
    "the database at {where} is not set up for this version of Switchboard;"
    " run `switchboard db upgrade` first"
)


def require_current_schema(c: Container) -> None:
    """Stop with what to do, rather than a traceback, on an unmigrated or older database."""
    if not is_current(c.engine):
        raise fail(NOT_MIGRATED.format(where=c.engine.url.render_as_string(hide_password=True)))


@contextmanager
def container(*, migrated: bool = True) -> Iterator[Container]:
    """The composition root for one command; its connections close when the command ends.

    ``migrated=False`` for the commands that bring the schema up to date themselves.
    """
    c = build(Settings())
    try:
        if migrated:
            require_current_schema(c)
        yield c
    finally:
        c.close()
        c.engine.dispose()


def fail(message: str, code: int = 1) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)


@contextmanager
def unit_of_work() -> Iterator[Session]:
    """A transaction whose domain errors become a clear message and a non-zero exit."""
    with container() as c:
        try:
            with c.unit_of_work() as session:
                yield session
        except PortalError as exc:
            raise fail(exc.message, 2 if exc.status == 422 else 1) from exc


def parse(model: type[M], data: dict[str, Any]) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise fail(from_pydantic(exc).message, 2) from exc


def emit(rows: Sequence[dict[str, Any]], as_json: bool, columns: Sequence[str], title: str) -> None:
    if as_json:
        sys.stdout.write(json.dumps(list(rows), default=str, indent=2) + "\n")
        return
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(_cell(row.get(c)) for c in columns))
    console.print(table)


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def dumps(obj: BaseModel | Callable[[], BaseModel]) -> dict[str, Any]:
    model = obj() if callable(obj) else obj
    return model.model_dump(mode="json")
