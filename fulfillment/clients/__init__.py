"""Provider clients of the fulfillment app (they return dataclasses and never touch the database)."""
