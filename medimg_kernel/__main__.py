"""Allow ``python -m medimg_kernel ...`` as an alias of the ``medimg`` command."""

import sys

from .cli import main

sys.exit(main())
