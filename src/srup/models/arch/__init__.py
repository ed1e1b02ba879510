"""The architectures, one file each; :mod:`srup.models.registry` lists them."""
