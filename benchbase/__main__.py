import sys

from benchbase.cli import main

sys.exit(main())
