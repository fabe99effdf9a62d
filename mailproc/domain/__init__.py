"""Pure domain rules: no I/O, no clock reads, standard library only."""
