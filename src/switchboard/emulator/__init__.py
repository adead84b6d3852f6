"""A local Entra ID token endpoint and Microsoft Graph v1.0 server.

For demos, tests and benchmarks only: the product never imports this package; demo, benchmark
and test wiring do. It follows docs shared/reference/graph-contract.md so that code that works
against it works against Microsoft Graph.
"""
