"""Thin stacks that compose the constructs from an environment's config."""
