"""The text of a PDF that WeasyPrint wrote (the bulletin's), for tests: each run of text
(one ``Tj`` or ``TJ`` operator, a line of a paragraph or a table cell) in page order,
decoded through its font's ``ToUnicode`` map.

Enough PDF for what WeasyPrint writes (flate streams, object streams, Identity-H fonts
with two-byte codes, direct lengths); no PDF library is installed, and a test reading
"some bytes of the file" could not tell a level from a glyph number.
"""

from __future__ import annotations

import re
import zlib

_OBJECT = re.compile(rb"(\d+) 0 obj\s*")
_REFERENCE = rb"(\d+) 0 R"
# A font chosen (``/Name size Tf``), or shown text: an array of hex strings and
# kerning numbers (``[<..> 0 <..>] TJ``) or one hex string (``<..> Tj``).
_TEXT = re.compile(rb"/([^\s/\[\]<>()]+)\s+[\d.]+\s+Tf"
                   rb"|\[((?:\s*(?:<[0-9a-fA-F]*>|-?[\d.]+))*)\s*\]\s*TJ"
                   rb"|<([0-9a-fA-F]*)>\s*Tj")


def _objects(pdf: bytes) -> tuple[dict[int, bytes], dict[int, bytes]]:
    """(dictionary text by object number, decompressed stream by object number)."""
    dictionaries, streams = {}, {}
    position = 0
    while match := _OBJECT.search(pdf, position):
        number = int(match.group(1))
        start_stream = pdf.find(b"stream", match.end())
        end_object = pdf.find(b"endobj", match.end())
        if start_stream == -1 or end_object < start_stream:
            dictionaries[number] = pdf[match.end():end_object]
            position = end_object
            continue
        header = pdf[match.end():start_stream]
        data_start = start_stream + len(b"stream")
        data_start += 2 if pdf[data_start:data_start + 2] == b"\r\n" else 1
        length = int(re.search(rb"/Length (\d+)", header).group(1))
        data = pdf[data_start:data_start + length]
        if b"/FlateDecode" in header:
            data = zlib.decompress(data)
        dictionaries[number], streams[number] = header, data
        position = data_start + length
        if b"/ObjStm" in header:  # objects packed in a stream: "number offset" pairs
            first = int(re.search(rb"/First (\d+)", header).group(1))
            pairs = [int(v) for v in data[:first].split()]
            offsets = [*pairs[1::2], len(data) - first]
            for k, packed in enumerate(pairs[::2]):
                dictionaries[packed] = data[first + offsets[k]:first + offsets[k + 1]]
    return dictionaries, streams


def _resolved(dictionaries: dict[int, bytes], text: bytes, key: bytes) -> bytes:
    """The value of ``/key`` in ``text``: the referenced object's text, or the inline
    dictionary."""
    match = re.search(rb"/" + key + rb"\s*(?:" + _REFERENCE + rb"|(<<.*?>>))", text, re.S)
    if match is None:
        raise KeyError(key)
    return dictionaries[int(match.group(1))] if match.group(1) else match.group(2)


def _unicode_map(cmap: bytes) -> dict[str, str]:
    """Code (hex, upper case) to text, from a ToUnicode CMap's bfchar and bfrange."""
    codes = {}
    for block in re.findall(rb"beginbfchar(.*?)endbfchar", cmap, re.S):
        for source, target in re.findall(rb"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>", block):
            codes[source.decode().upper()] = bytes.fromhex(target.decode()).decode("utf-16-be")
    for block in re.findall(rb"beginbfrange(.*?)endbfrange", cmap, re.S):
        for low, high, target in re.findall(
                rb"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>", block):
            width, first = len(low), int(target, 16)
            for offset, code in enumerate(range(int(low, 16), int(high, 16) + 1)):
                codes[f"{code:0{width}X}"] = chr(first + offset)
    return codes


def pdf_text_runs(pdf: bytes) -> list[str]:
    """Every run of text of ``pdf``, page by page, in the order it is drawn."""
    dictionaries, streams = _objects(pdf)
    catalog = next(text for text in dictionaries.values() if b"/Type /Catalog" in text)
    runs: list[str] = []
    for page in _pages(dictionaries, _resolved(dictionaries, catalog, b"Pages")):
        fonts = _resolved(dictionaries, _resolved(dictionaries, page, b"Resources"), b"Font")
        maps = {name.decode(): _unicode_map(streams[int(
                    re.search(rb"/ToUnicode " + _REFERENCE, dictionaries[int(font)]).group(1))])
                for name, font in re.findall(rb"/([^\s/<>]+)\s+" + _REFERENCE, fonts)}
        contents = re.search(rb"/Contents\s*(\[[^\]]*\]|" + _REFERENCE + rb")", page).group(1)
        font: dict[str, str] = {}
        for number in re.findall(_REFERENCE, contents):
            for name, array, single in _TEXT.findall(streams[int(number)]):
                if name:
                    font = maps[name.decode()]
                    continue
                hexes = re.findall(rb"<([0-9a-fA-F]*)>", array) if array else [single]
                text = "".join(font[h[k:k + 4].decode().upper()]
                               for h in hexes for k in range(0, len(h), 4))
                runs.append(text)
    return runs


def _pages(dictionaries: dict[int, bytes], node: bytes) -> list[bytes]:
    """The page dictionaries under a /Pages node, in order."""
    if b"/Type /Page" in node and b"/Type /Pages" not in node:
        return [node]
    kids = re.search(rb"/Kids\s*\[([^\]]*)\]", node).group(1)
    return [page for number in re.findall(_REFERENCE, kids)
            for page in _pages(dictionaries, dictionaries[int(number)])]
