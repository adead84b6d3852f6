"""Mutual TLS for Switchboard's own API: certificate authority tooling and the server side."""
