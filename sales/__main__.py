"""`python -m sales …` — see sales.cli."""

from sales.cli import main

raise SystemExit(main())
