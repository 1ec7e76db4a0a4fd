"""The SQLite backend. Its schema is the numbered ``migrations/*.sql`` next to this file."""
