"""``python -m devstack`` (``make run``): start the local stack; Ctrl-C stops it."""

import sys

from devstack.stack import main

sys.exit(main())
