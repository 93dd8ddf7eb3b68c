"""The network side: the log server (FastAPI), its witness publisher, and the witness
service. ``pact`` knows nothing of HTTP; this package puts the same log, statements and
replay behind the C2SP static API and a small JSON API."""
