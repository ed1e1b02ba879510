"""Data for training and evaluation: data sets on disk, degradations as data and rendered
boards of text."""
