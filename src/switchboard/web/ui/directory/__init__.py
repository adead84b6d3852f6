"""The admin UI's directory pages: the Entra ID connection and its settings form, sync runs and
held runs, and the directory users a manual-provisioning sync offered (templates:
``account/directory*.html``, ``account/users_from_directory.html``)."""
