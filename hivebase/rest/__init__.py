"""REST doors: each dialect translates HTTP into core calls and core errors back into its own shape."""
