"""``python -m asyncmarl`` runs the command line."""
from asyncmarl.cluster.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
