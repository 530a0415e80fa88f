import sys

from igflow.launch import main

sys.exit(main())
