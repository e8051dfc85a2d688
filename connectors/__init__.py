"""Provider connectors that more than one app uses (one package per provider). A connector speaks HTTP to its
provider, returns dataclasses, raises the kernel's typed connector errors and never touches the database."""
