"""`python -m bess_size` is the `bess-size` command."""

from bess_size.cli import main

if __name__ == "__main__":
    main()
