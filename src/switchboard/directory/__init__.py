"""The directory side: reading and writing Microsoft Entra ID over Microsoft Graph."""
