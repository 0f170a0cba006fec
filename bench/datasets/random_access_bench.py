#!/usr/bin/env python3
"""Megatron-Core GPTDataset random access (samples/s) for bench/datasets/random-access.bench.ts:
same files, seed 1234, split 100,0,0, same read order. Prints one JSON line."""
import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools", "fixtures"))
import make_datasets_fixtures as mdf  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--seq", type=int, required=True)
    p.add_argument("--samples", type=int, required=True)
    p.add_argument("--reads", type=int, required=True)
    a = p.parse_args()
    real_torch = mdf.install_megatron()
    from megatron.core.datasets.blended_megatron_dataset_builder import BlendedMegatronDatasetBuilder
    from megatron.core.datasets.gpt_dataset import GPTDataset, GPTDatasetConfig
    with tempfile.TemporaryDirectory() as cache:
        cfg = GPTDatasetConfig(random_seed=1234, sequence_length=a.seq, blend=([a.data], None), split="100,0,0", path_to_cache=cache,
                               tokenizer=mdf.GPTTok(), reset_position_ids=False, reset_attention_mask=False, eod_mask_loss=False,
                               create_attention_mask=False)
        t0 = time.time()
        ds = BlendedMegatronDatasetBuilder(GPTDataset, [a.samples, None, None], lambda: True, cfg).build()[0]
        build = time.time() - t0
        order = [(k * 7919) % len(ds) for k in range(a.reads)]
        t1 = time.time()
        check = 0
        for i in order:
            if real_torch:
                check += int(ds[i]["tokens"][0])
            else:
                check += int(ds._query_document_sample_shuffle_indices(i)[0][0])
        secs = time.time() - t1
    print(json.dumps({"build_seconds": build, "samples_per_s": a.reads / secs, "checksum": check, "torch": real_torch}))


if __name__ == "__main__":
    main()
