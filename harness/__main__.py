"""``python -m harness`` runs the command line (used by ``torchrun -m harness``)."""

from harness.cli import main

if __name__ == "__main__":
    main()
