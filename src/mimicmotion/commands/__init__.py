"""Subcommands of the `mimicmotion` command line (see `mimicmotion.cli`)."""
