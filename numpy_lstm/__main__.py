"""``python -m numpy_lstm`` runs the command line."""

import sys

from numpy_lstm.cli import main

sys.exit(main())
