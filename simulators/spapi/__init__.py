"""Local Amazon SP-API simulator: LWA token exchange and Orders v0, with usage plans and fault injection."""
