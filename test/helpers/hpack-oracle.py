"""HPACK oracle for src/extproc/wire/hpack.test.ts, backed by Debian's python3-hpack.

Reads one JSON request on stdin and writes one JSON reply on stdout. Header names and values
travel as hex so that arbitrary octets (latin1 0x80-0xff included) survive the trip.

  {"op": "encode", "sessions": [[block, ...], ...]}
      block = {"sizes": [int, ...], "huffman": bool, "headers": [[nameHex, valueHex, sensitive], ...]}
      Each session gets a fresh Encoder; before encoding a block, each size in "sizes" is set as
      encoder.header_table_size (the encoder then emits size updates at the start of the block).
      -> {"sessions": [[blockHex, ...], ...]}

  {"op": "decode", "blocks": [blockHex, ...]}
      Decodes the blocks in order with one Decoder.
      -> {"lists": [[[nameHex, valueHex], ...], ...]}

Exits with status 3 and a message on stderr when the hpack module is missing.
"""
import json
import sys

try:
    import hpack
except ImportError:
    sys.stderr.write("python3-hpack is not installed: apt-get install python3-hpack\n")
    sys.exit(3)


def encode(sessions):
    out = []
    for blocks in sessions:
        encoder = hpack.Encoder()
        hexes = []
        for block in blocks:
            for size in block["sizes"]:
                encoder.header_table_size = size
            headers = [
                (bytes.fromhex(name), bytes.fromhex(value), sensitive)
                for name, value, sensitive in block["headers"]
            ]
            hexes.append(encoder.encode(headers, huffman=block["huffman"]).hex())
        out.append(hexes)
    return {"sessions": out}


def decode(blocks):
    decoder = hpack.Decoder()
    lists = []
    for block in blocks:
        headers = decoder.decode(bytes.fromhex(block), raw=True)
        lists.append([[bytes(name).hex(), bytes(value).hex()] for name, value in headers])
    return {"lists": lists}


def main():
    request = json.load(sys.stdin)
    if request["op"] == "encode":
        reply = encode(request["sessions"])
    elif request["op"] == "decode":
        reply = decode(request["blocks"])
    else:
        raise ValueError("unknown op %r" % request["op"])
    json.dump(reply, sys.stdout)


if __name__ == "__main__":
    main()
