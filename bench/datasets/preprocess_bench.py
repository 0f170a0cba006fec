#!/usr/bin/env python3
"""Megatron's tools/preprocess_data.py path (multiprocessing Pool, imap chunks of 32, json.loads,
tokenize, append EOD, IndexedDatasetBuilder.add_document) with Hugging Face's GPT-2 byte-level BPE,
for bench/datasets/preprocess.bench.ts. Prints one JSON line: documents, tokens, seconds, tokens_per_s.
Needs `tokenizers` and the staged Megatron code (tools/fixtures/stage_megatron.sh)."""
import argparse
import json
import multiprocessing
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools", "fixtures"))
import make_datasets_fixtures as mdf  # noqa: E402

_tok = None


def init():
    global _tok
    from tokenizers import ByteLevelBPETokenizer
    _tok = ByteLevelBPETokenizer(mdf.unpacked("gpt2/vocab.json"), mdf.unpacked("gpt2/merges.txt"))


def encode(line):
    text = json.loads(line)["text"]
    ids = _tok.encode(text).ids
    if ids:
        ids.append(50256)
    return ids, len(line)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--input", required=True)
    p.add_argument("--output-prefix", required=True)
    p.add_argument("--workers", type=int, required=True)
    a = p.parse_args()
    mdf.install_megatron()
    import numpy as np
    from megatron.core.datasets import indexed_dataset
    init()  # warm the vocabulary files before timing
    t0 = time.time()
    builder = indexed_dataset.IndexedDatasetBuilder(a.output_prefix + "_text_document.bin", dtype=indexed_dataset.DType.optimal_dtype(50257))
    docs = tokens = 0
    with open(a.input, encoding="utf-8") as fin, multiprocessing.Pool(a.workers, initializer=init) as pool:
        for ids, _ in pool.imap(encode, fin, 32):
            builder.add_document(np.asarray(ids), [len(ids)] if ids else [])
            docs += 1
            tokens += len(ids)
    builder.finalize(a.output_prefix + "_text_document.idx")
    secs = time.time() - t0
    print(json.dumps({"documents": docs, "tokens": tokens, "seconds": secs, "tokens_per_s": tokens / secs}))


if __name__ == "__main__":
    main()
