import sys

from igflow.cli import main

sys.exit(main())
