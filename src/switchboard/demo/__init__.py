"""`switchboard demo`'s steps: the sample account, the emulator as the customer's tenant, the
connection between them. The command itself (options, output) is `cli/demo_command.py`."""
