"""Tools beside the product (components/): never imported by it."""
