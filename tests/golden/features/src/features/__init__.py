"""User code of the features test project."""
