"""One module per ``fasfast`` sub-command (see :mod:`fasfast.cli`)."""
