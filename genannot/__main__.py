"""`python -m genannot`: the same command line as the `genannot` script."""

from genannot.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
