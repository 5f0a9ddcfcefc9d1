"""Model specs and generators. Importing this package does not import torch."""
