"""A minimal application used to test checking your own project with the image."""
