"""The SR evaluation protocol (pairs and scores), ``srup benchmark``'s run, and figures that
compare methods. Data sets themselves are :mod:`srup.data.datasets`'."""
