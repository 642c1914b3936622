"""`python -m framework`: the same command line as the `framework` console script."""

from framework.cli import main

if __name__ == "__main__":
    main()
