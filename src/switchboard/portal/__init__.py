"""The portal domain. Its service functions are the only writers of the portal tables."""
