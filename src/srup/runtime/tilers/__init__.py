"""Tilers: how a picture is cut into tiles (plan), run on the host (CPU) or kept resident on
the device (GPU bands)."""
