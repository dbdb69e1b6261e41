#!/usr/bin/env python3
"""`python cli.py ...` is the same as the installed `fsapp ...` command."""
from fsapp.cli import main

if __name__ == "__main__":
    main(prog_name="fsapp")
