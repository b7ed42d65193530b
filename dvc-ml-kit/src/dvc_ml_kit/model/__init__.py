"""The published model: a bundle that loads without running code, and scoring new rows."""
