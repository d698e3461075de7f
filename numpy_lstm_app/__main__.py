"""``python -m numpy_lstm_app`` runs the command line."""

import sys

from numpy_lstm_app.cli import main

sys.exit(main())
