"""``python -m rag``: the same command as ``rag``."""
from rag.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
