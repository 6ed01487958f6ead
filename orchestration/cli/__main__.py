"""`python -m orchestration.cli`: the same as the `funnel` command."""

from orchestration.cli.main import main

main()
