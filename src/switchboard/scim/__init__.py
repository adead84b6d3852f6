"""SCIM 2.0: Microsoft Entra's provisioning service, Okta or a script pushes users and groups
to ``/scim/v2/{account}``; each change goes through the same mapping, location rules, locked
fields and portal write path as the Graph sync.

- ``errors``: the SCIM Error a refusal becomes (status, scimType, detail in words);
- ``source``: an account's SCIM connection and its settings, and the sync policy they give;
- ``tokens``: the SCIM client's bearer tokens (hashed, rotated with an overlap, revoked);
- ``user_attributes``: the attributes of a User the portal uses, read from and rendered to
  SCIM JSON (Entra's and Okta's shapes included);
- ``user_patch``: PATCH operations on a user;
- ``users``: create, replace, patch and delete of users, through the sync's plan and apply;
- ``filters``: SCIM filters as SQL conditions; ``listing``: paging, sorting and projection;
- ``groups``: groups and their members;
- ``request_log``: what each SCIM request did, for the account's admins;
- ``limits``: the per-account request rate.
"""
