"""Output bodies the REST API returns and the CLI prints with ``--json``: one shape for both.

Input bodies stay with the services that check them (``portal/schemas.py``,
``connection/registration.RegistrationIn``).
"""
