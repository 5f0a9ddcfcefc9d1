"""Inter-rater agreement (placeholder during development)."""
