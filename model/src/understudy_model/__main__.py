import sys

from understudy_model.cli import main

sys.exit(main())
