import sys

from mimicmotion.cli import main

sys.exit(main())
