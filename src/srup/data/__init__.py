"""Data for training and evaluation: degradations as data and rendered boards of text."""
