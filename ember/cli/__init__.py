"""The ``ember`` command line (``ember demo|train|eval|inspect``)."""
