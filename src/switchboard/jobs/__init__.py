"""Background work behind one small interface: in-process threads, or a queue for scale-out."""
