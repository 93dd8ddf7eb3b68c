"""The hashing process's entry point (``python -m pausepact.transcript.hash_worker FD
PARENT_PID THREADS CHUNK``), apart from :mod:`.hash_process` so that running it does not
import the module it runs twice."""

import sys
from multiprocessing.connection import Connection

from .hash_process import serve

if __name__ == "__main__":
    fd, parent, threads, chunk = map(int, sys.argv[1:5])
    serve(Connection(fd), parent, threads, chunk)
