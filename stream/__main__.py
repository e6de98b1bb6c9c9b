"""Entry point of ``python -m stream``."""
import sys

from stream.cli import main

sys.exit(main())
