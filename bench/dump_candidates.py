"""Dump, per SQuAD question, the answer step's candidate sentences (features without the type column),
so short-answer rules can be iterated on without retrieval. Usage: PYTHONPATH=. python bench/dump_candidates.py DATA OUT.pkl"""
import pickle
import sys
from dataclasses import replace
from pathlib import Path

from rag import assemble
from rag.answer.extractive import ExtractiveAnswerer
from rag.api import Rag
from rag.build.builder import build_index
from rag.config import Config
from rag.evaluation.datasets import load_beir
from rag.evaluation.runner import _cache_dir

sys.path.insert(0, str(Path(__file__).parent))
from calibrate_threshold import qvecs_for

folder = Path(sys.argv[1]); config = Config()
ds = load_beir(folder, "test")
config = replace(config, index_dir=_cache_dir(folder, config))
emb = assemble.embedder(config)
build_index(config, embedder=emb, documents=ds.documents)
rag = Rag(config, embedder=emb)
qv = qvecs_for(emb, ds.queries)
out = []
for n, q in enumerate(ds.queries):
    question = ds.queries[q]
    top = rag.search(question, qvec=qv[q])
    cands, feats = ExtractiveAnswerer.features(question, qv[q], top, rag.retriever)
    out.append(dict(q=question, gold=ds.answers.get(q, []),
                    sents=[c.sentence.text for c in cands], feats=feats))
    if n % 500 == 0: print(n, file=sys.stderr)
pickle.dump(out, open(sys.argv[2], "wb"))
