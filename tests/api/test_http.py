"""`serialize` writes, with orjson, the bytes the standard library's encoder writes for our documents."""

import gzip
import json
import math

from hypothesis import given
from hypothesis import strategies as st

from api.web.http import FAST_GZIP_FROM, gzipped, serialize

# Every float a document holds: percentages, ratios and scores. Below 1e-4 the two differ in form only
# (Python writes 1.5e-05, orjson 0.000015: the same number, both valid JSON), so those are left out.
FLOATS = st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: x == 0 or abs(x) >= 1e-4)
TEXT = st.text(st.characters(exclude_categories=("Cs",)))  # a lone surrogate is no Unicode text to send
SCALARS = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | FLOATS | TEXT
DOCUMENTS = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=30,
)


@given(DOCUMENTS)
def test_serialize_writes_what_the_standard_encoder_writes(document):
    assert serialize(document) == json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def test_serialize_keeps_key_order_and_writes_text_as_utf8():
    document = {"z": 1, "a": [1.5, -0.0, None, True], "nom": 'Benoît Hamon \u2028\x00"\\', "€": math.pi}
    assert (
        serialize(document)
        == (
            '{"z":1,"a":[1.5,-0.0,null,true],"nom":"Benoît Hamon \u2028\\u0000\\"\\\\","€":3.141592653589793}'
        ).encode()
    )


def test_a_gzip_is_the_same_bytes_from_every_node_and_inflates_to_the_document():
    row = serialize({"code": "75056", "name": "Paris", "votes": [1_234_567, 987_654]}) + b","
    small, large = row * 100, row * (FAST_GZIP_FROM // len(row) + 1)
    assert gzipped(small) == gzip.compress(small, compresslevel=6, mtime=0)
    packed = gzipped(large)  # by ISA-L: its deflate stream is not zlib's
    assert (gzip.decompress(packed), packed[4:8], gzipped(large)) == (large, b"\0\0\0\0", packed)
    assert packed[10:] != gzip.compress(large, compresslevel=6, mtime=0)[10:]
