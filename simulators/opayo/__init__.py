"""Local Opayo simulator: Pi REST v1, the Reporting & Admin API, a Server-protocol notification sender, faults."""
