"""pausepact: a coordinated, verifiable pause of frontier AI development."""

__version__ = "0.1.0"
