"""The resilience suite: kills, fault storms, replays, races and guard scenarios against the
Entra ID emulator, with a checker that compares the tenant with the portal's database.

    .venv/bin/python -m resilience [--quick] [--kills 100] [--databases sqlite,postgresql]

``make resilience`` runs it in full; tests/integration/resilience/test_bounded.py runs a
bounded version on every change.
"""
