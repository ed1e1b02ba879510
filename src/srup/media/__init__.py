"""Files in and out: pictures (Pillow and friends), PNG, 16-bit colour, EXIF, and video (PyAV)."""
