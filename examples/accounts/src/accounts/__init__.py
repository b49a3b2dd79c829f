"""The accounts example application: its own code, next to the generated `accounts.data`."""
