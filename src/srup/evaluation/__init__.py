"""The SR evaluation protocol, ``srup benchmark``, and figures that compare methods."""
