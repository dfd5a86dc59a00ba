"""The share of binary-looking characters that makes a text file count as binary (rag.ingest.read._bad_share),
against a character-by-character oracle."""
import random
import unicodedata

from rag.ingest.read import _bad_share


def oracle(text):
    n, block = len(text), 4096
    starts = list(range(0, n, block) if n <= 32 * block else range(0, n - block, (n - block) // 31))[:32]
    seen = [ch for a in starts for ch in text[a:a + block]]
    bad = [ch for ch in seen if ch == "\ufffd" or (unicodedata.category(ch) in ("Cc", "Cn", "Co", "Cs")
                                                   and ch not in "\t\n\r\f\v")]
    return len(bad) / len(seen) if seen else 0.0


def test_bad_share_matches_the_per_character_rule():
    rng = random.Random(2)
    alphabet = ("abc XYZ 09 .,;!~\t\n\r\f\v" + "\x00\x01\x1b\x7f\x85\x9f" + "\ufffd\ue000\U000f0000\u0378"
                + "é委🚀\u2028\u00a0Ωж")
    assert _bad_share("") == 0.0
    assert _bad_share("plain ASCII text.\n") == 0.0
    assert _bad_share("\x00\x01ab") == 0.5                # by hand: two of four
    assert _bad_share("\ufffd\ue000\u0378 é") == 0.6      # replacement, private use, unassigned of five
    for size in (1, 100, 5000, 40_000, 200_000):
        text = "".join(rng.choice(alphabet) for _ in range(size))
        assert _bad_share(text) == oracle(text), size
