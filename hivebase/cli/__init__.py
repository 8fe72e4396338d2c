"""The ``hivebase`` command: a thin door turning arguments into core calls and results into text or JSON."""
