import sys

from understudy_cli.main import main

sys.exit(main())
