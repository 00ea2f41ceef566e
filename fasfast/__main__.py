"""``python -m fasfast ...`` (used by ``torchrun -m fasfast train ...``)."""

import sys

from fasfast.cli import main

sys.exit(main())
