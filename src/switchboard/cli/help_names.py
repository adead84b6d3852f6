"""How `--help` names each option's value: ACCOUNT, EMAIL, MINUTES, PATH, never a Python type.

Typer shows an option's annotation (`<str>`, `<int range>`, `<list[str]>`, `<bool>` on every
flag). The CLI's root groups use `ReadableHelpGroup`, which names each value once, here, by the
parameter's name (the same name means the same thing across commands), falling back to a plain
word for its type. A metavar given on an option itself wins.
"""

from __future__ import annotations

from typing import Any

from typer._click import Context
from typer.core import TyperGroup

# By parameter name; "name:type" where one name holds different things in different commands.
NAMES = {
    "account": "ACCOUNT",
    "slug": "ACCOUNT",
    "authority_url": "URL",
    "graph_url": "URL",
    "ca_bundle": "FILE",
    "certificate": "FILE",
    "client_ca": "FILE",
    "notification_ca": "FILE",
    "tls_cert": "FILE",
    "tls_key": "FILE",
    "directory": "DIR",
    "out_dir": "DIR",
    "state_dir": "DIR",
    "client_id": "GUID",
    "tenant_id": "GUID",
    "email": "EMAIL",
    "name": "NAME",
    "common_name": "NAME",
    "display_name": "NAME",
    "first_name": "NAME",
    "last_name": "NAME",
    "street": "TEXT",
    "city": "TEXT",
    "region": "TEXT",
    "postal_code": "CODE",
    "country": "COUNTRY",
    "time_zone": "TIME_ZONE",
    "location": "LOCATION",
    "default_location": "LOCATION",
    "license": "LICENSE",
    "e164": "E164",
    "number:int": "RUN",
    "number": "E164",
    "extension": "DIGITS",
    "extension_length": "DIGITS",
    "user": "USER",
    "search": "TEXT",
    "cloud": "CLOUD",
    "mode": "MODE",
    "provisioning": "MODE",
    "cron": "CRON",
    "every": "MINUTES",
    "days": "DAYS",
    "seconds": "SECONDS",
    "duration": "SECONDS",
    "retry_after": "SECONDS",
    "timeout_seconds": "SECONDS",
    "latency_ms": "MS",
    "notification_delay_ms": "MS",
    "groups:str": "GROUP_IDS",
    "location_rule": "VALUE=LOCATION",
    "map_": "FIELD=PROPERTY",
    "extension_attribute": "ATTRIBUTE",
    "retention": "PLAN",
    "host": "HOST",
    "metrics_host": "HOST",
    "forwarded_allow_ips": "IPS",
    "port": "PORT",
    "emulator_port": "PORT",
    "metrics_port": "PORT",
    "kind": "KIND",
    "status": "STATUS",
    "delta_expired_status": "STATUS",
    "log_level": "LEVEL",
    "roles": "PERMISSIONS",
    "error_kinds": "KINDS",
    "error_targets": "TARGETS",
    "error_rate": "RATE",
    "notification_drop_rate": "RATE",
    "notification_duplicate_rate": "RATE",
    "rate": "PER_SECOND",
    "seed": "SEED",
}
# Otherwise by type: whatever the parameter's name, a count is a number.
TYPES = {"str": "TEXT", "int": "NUMBER", "float": "NUMBER", "Path": "PATH"}


def value_name(param: Any) -> str | None:
    """The word `--help` shows for the parameter's value ("" for a flag, which takes none)."""
    if getattr(param, "is_flag", False):
        return ""
    described = param.type_descriptor
    if described.is_choice and described.choices:
        return "|".join(str(getattr(c, "value", c)) for c in described.choices)
    bare = param.bare_type()
    element = bare.removeprefix("list[").removesuffix("]")
    return NAMES.get(f"{param.name}:{element}") or NAMES.get(param.name) or TYPES.get(element)


def _no_type(ctx: Context) -> None:
    return None


def _name(params: list[Any]) -> None:
    for param in params:
        if param.metavar is None:
            named = value_name(param)
            if named is not None:
                param.metavar = named
        if param.param_type_name == "argument":
            # The name column shows an argument's metavar already; its type column would only
            # repeat the annotation (`<str>`), and Typer has no setting to leave it out.
            param.display_type_rich = _no_type


def name_values(command: Any) -> None:
    """Give every parameter under ``command`` its readable value name (once, in place)."""
    _name(getattr(command, "params", []))
    # --help is made on first use; made now (it is cached) so that it too shows no `<bool>`.
    help_option = command.get_help_option(Context(command))
    if help_option is not None:
        help_option.metavar = ""
    for sub in getattr(command, "commands", {}).values():
        name_values(sub)


class ReadableHelpGroup(TyperGroup):
    """A root command group whose whole tree names its values in words (built once, at start)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        name_values(self)

    def get_params(self, ctx: Context) -> list[Any]:
        # Typer adds the shell-completion options to the root after building it.
        params = super().get_params(ctx)
        _name(params)
        return params
