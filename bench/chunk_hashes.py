"""A hash of every document's chunks and sentences as the build makes them (rag.build.reading.chunk_document,
the default model's token check), to show that two versions of the chunker give the same chunks.

    PYTHONPATH=OLD_TREE python bench/chunk_hashes.py old.json ../shared/data/scifact ../shared/data/squad-dev
    PYTHONPATH=.        python bench/chunk_hashes.py new.json ../shared/data/scifact ../shared/data/squad-dev
    python bench/chunk_hashes.py --compare old.json new.json

Each document is "title\\n\\ntext" (as bench/first_answer.py writes it). Prints the documents and seconds.
"""
from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path


def main() -> None:
    if sys.argv[1] == "--compare":
        a, b = (json.loads(Path(p).read_text()) for p in sys.argv[2:4])
        differ = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
        print(f"{len(a)} / {len(b)} documents, {len(differ)} differ{': ' + ', '.join(differ[:10]) if differ else ''}")
        sys.exit(1 if differ else 0)
    from rag.build.reading import chunk_document
    from rag.config import Config
    from rag.embed.embedder import Embedder
    from rag.evaluation.datasets import load_beir
    from rag.ingest.read import Document

    config = Config()
    emb = Embedder(config.model, backend=config.backend)
    emb.count_tokens("")   # loaded before the clock starts
    out, t0 = {}, time.perf_counter()
    for folder in map(Path, sys.argv[2:]):
        split = sorted((folder / "qrels").glob("*.tsv"))[0].stem
        for d in load_beir(folder, split).documents:
            doc = Document(id=d.id, title=d.title, text=f"{d.title}\n\n{d.text}", sha256="")
            chunks, units, context = chunk_document(doc, config, emb)
            key = json.dumps([[(c["start"], c["end"], c["sent_lo"], c["sent_hi"], c["text"]) for c in chunks],
                              units, context])
            out[f"{folder.name}/{d.id}"] = hashlib.sha256(key.encode()).hexdigest()
    print(f"{len(out)} documents chunked in {time.perf_counter() - t0:.1f}s")
    Path(sys.argv[1]).write_text(json.dumps(out))


if __name__ == "__main__":
    main()
