"""Training: patch samplers and the training loop."""
