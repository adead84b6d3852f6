"""The ``switchboard`` command line."""
