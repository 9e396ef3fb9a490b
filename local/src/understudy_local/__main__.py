import sys

from understudy_local.cli import main

sys.exit(main())
