"""mailproc: the ISO 9001 customer-complaint procedure (PTPP, FM-MR-15) run by email."""

__version__ = "0.1.0"
