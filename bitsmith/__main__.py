"""``python -m bitsmith`` runs the command line."""

import sys

from bitsmith.generator.cli import main

sys.exit(main())
