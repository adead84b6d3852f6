"""``switchboard directory connection``: change the cloud, hosts or CA bundle while connected."""

from __future__ import annotations

from typing import Annotated

import typer

from switchboard.cli.common import JsonOption, cli_actor, console, container, fail, parse
from switchboard.cli.directory_commands import directory, print_registration
from switchboard.cli.settings_options import AuthorityUrl, CaBundle, Cloud, GraphUrl
from switchboard.connection import connection_edit
from switchboard.portal import accounts as accounts_service
from switchboard.portal.errors import PortalError
from switchboard.schemas.registration_out import RegistrationOut


@directory.command("connection")
def directory_connection(
    account: str,
    cloud: Cloud = None,
    authority_url: AuthorityUrl = None,
    graph_url: GraphUrl = None,
    ca_bundle: CaBundle = None,
    no_ca_bundle: Annotated[
        bool, typer.Option("--no-ca-bundle", help="Remove the CA bundle (trust the system's CAs)")
    ] = False,
    as_json: bool = JsonOption,
) -> None:
    """Change ACCOUNT's cloud, custom hosts or CA bundle; the certificate stays.

    The tenant and the app are fixed: disconnect and connect again to change them. Test the
    connection again afterwards (switchboard directory test ACCOUNT).
    """
    if ca_bundle is not None and no_ca_bundle:
        raise fail("give --ca-bundle or --no-ca-bundle, not both", 2)
    bundle = ca_bundle.read_text() if ca_bundle else ("" if no_ca_bundle else None)
    data = parse(
        connection_edit.ConnectionEdit,
        {
            "cloud": cloud,
            "authority_url": authority_url,
            "graph_url": graph_url,
            "ca_bundle_pem": bundle,
        },
    )
    with container() as c:
        try:
            with c.unit_of_work() as s:
                actor = cli_actor()
                acct = accounts_service.get_account(s, actor, account, write=True)
                edited = connection_edit.update_connection(s, actor, acct, data)
                out = RegistrationOut.of(edited.registration)
        except PortalError as exc:
            raise fail(exc.message, 2 if exc.status == 422 else 1) from exc
        connection_edit.retire_old_connections(c.graph_connections, edited)
    print_registration(out, as_json, f"Connection of {account}")
    if not as_json:
        if edited.changed:
            console.print(
                f"\nChanged: {', '.join(edited.changed)}; the certificate is unchanged."
                f" Test the connection again: switchboard directory test {account}"
            )
        else:
            console.print("\nNothing changed.")
