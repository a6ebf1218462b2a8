"""``python -m demo --partners URL --reviews URL``: load the demo into running services."""

from demo.loader import main

main()
