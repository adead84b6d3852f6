"""An account's connection to its Entra tenant: the registration, its certificates, its sync
settings and the connection test. The Graph adapter it drives is ``switchboard.directory``."""
