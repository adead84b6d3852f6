"""Directory sync: scope -> mapping -> plan (pure) -> apply, with runs and guards."""
