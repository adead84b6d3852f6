"""Portal users: the one write path for every change to a user, for one user or 100,000.

- ``queries``: reading users, and which are still synced from which Entra ID user;
- ``rules``: what every change keeps (unique keys, extensions, a new user's row and audit);
- ``writes``: the statements shared by all changes, each leaving one audit row and one event
  per user behind;
- ``admin``: one user changed by a person (API, admin UI, CLI);
- ``bulk``: directory users changed in batches by the sync;
- ``directory``: one directory user changed by the sync (a batch of one), and linking.

Other packages import from here only.
"""

from switchboard.portal.users.admin import (
    create_user,
    delete_user,
    set_directory_status,
    unlink_from_directory,
    update_user,
)
from switchboard.portal.users.bulk import (
    DirectoryFields,
    NewDirectoryUser,
    Relocation,
    delete_many,
    delete_still_linked,
    provision_many,
    relocate_many,
    update_many,
)
from switchboard.portal.users.directory import (
    apply_directory_fields,
    link,
    provision,
    relocate,
    sync_actor,
)
from switchboard.portal.users.queries import (
    UserPage,
    count_users,
    get_user,
    list_users,
    still_linked,
    synced_directory_id,
    synced_user_id,
)
from switchboard.portal.users.rules import (
    DIRECTORY_OWNED,
    AccountKeys,
    DirectoryValues,
    Extensions,
    next_free_extension,
)

__all__ = [
    "DIRECTORY_OWNED",
    "AccountKeys",
    "DirectoryFields",
    "DirectoryValues",
    "Extensions",
    "NewDirectoryUser",
    "Relocation",
    "UserPage",
    "apply_directory_fields",
    "count_users",
    "create_user",
    "delete_many",
    "delete_still_linked",
    "delete_user",
    "get_user",
    "link",
    "list_users",
    "next_free_extension",
    "provision",
    "provision_many",
    "relocate",
    "relocate_many",
    "set_directory_status",
    "still_linked",
    "sync_actor",
    "synced_directory_id",
    "synced_user_id",
    "unlink_from_directory",
    "update_many",
    "update_user",
]
