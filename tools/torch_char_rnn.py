"""The PyTorch peer of a whole `charkeras fit` job, for `tools/bench_train.py --whole-job`.

A plain char-rnn script as a PyTorch user would write it, doing the same work as the fit it is compared
with: read the corpus, build the character vocabulary, hold out the last `--val-frac` of the text, cut
the rest into B contiguous streams (charkeras/data/streams.py's layout), train `--epochs` epochs of
truncated BPTT with the LSTM state carried across batches (Embedding -> stacked nn.LSTM with dropout ->
Dropout -> Linear, Adam, cosine learning rate, per-tensor gradient-norm clipping as Keras's clipnorm),
validate on the held-out streams at the end of each epoch, save a checkpoint and sample 200 characters.

    python tools/torch_char_rnn.py CORPUS --layers 2 --units 256 --dropout 0.5 --epochs 1

Needs the CPU build of PyTorch (`pip install torch==2.13.0`). Prints one JSON line at the end.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

START = time.perf_counter()
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import torch

from charkeras.data.streams import StreamLayout, stream_windows


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("corpus", type=Path)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--units", type=int, default=256)
    p.add_argument("--embedding-dim", type=int, default=64)
    p.add_argument("--dropout", type=float, default=0.5)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seq-len", type=int, default=100)
    p.add_argument("--val-frac", type=float, default=0.05)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--clipnorm", type=float, default=5.0)
    p.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    p.add_argument("--seed", type=int, default=1234)
    return p.parse_args(argv)


class CharLSTM(torch.nn.Module):
    def __init__(self, vocab: int, args):
        super().__init__()
        self.embedding = torch.nn.Embedding(vocab, args.embedding_dim)
        self.lstm = torch.nn.LSTM(args.embedding_dim, args.units, num_layers=args.layers, batch_first=True,
                                  dropout=args.dropout if args.layers > 1 else 0.0)
        self.dropout = torch.nn.Dropout(args.dropout)
        self.logits = torch.nn.Linear(args.units, vocab)

    def forward(self, x, state):
        out, state = self.lstm(self.embedding(x), state)
        return self.logits(self.dropout(out)), tuple(s.detach() for s in state)


def zero_state(args, batch: int):
    return tuple(torch.zeros(args.layers, batch, args.units) for _ in range(2))


def main(argv=None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    text = args.corpus.read_text(encoding="utf-8")
    chars = sorted(set(text))
    index = {c: i for i, c in enumerate(chars)}
    ids = np.fromiter((index[c] for c in text), dtype=np.int64, count=len(text))
    n_val = int(len(ids) * args.val_frac)
    train_ids, val_ids = ids[:-n_val], ids[-n_val:]
    b, t = args.batch_size, args.seq_len
    xs, ys = stream_windows(train_ids, StreamLayout.for_length(len(train_ids), b, t))
    vx, vy = stream_windows(val_ids, StreamLayout.for_length(len(val_ids), b, t))

    model = CharLSTM(len(chars), args)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    total = args.epochs * len(xs)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda k: 0.5 * (1 + math.cos(math.pi * k / total)))
    loss_fn = torch.nn.CrossEntropyLoss()
    first_step_s, train_loss, val_loss = None, float("nan"), float("nan")
    for _epoch in range(args.epochs):
        model.train()
        state, losses = zero_state(args, b), []
        for x, y in zip(xs, ys):
            logits, state = model(torch.from_numpy(x), state)
            loss = loss_fn(logits.reshape(-1, len(chars)), torch.from_numpy(y).reshape(-1))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            for param in model.parameters():
                torch.nn.utils.clip_grad_norm_(param, args.clipnorm)
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
            if first_step_s is None:
                first_step_s = time.perf_counter() - START
        train_loss = float(np.mean(losses))
        model.eval()
        with torch.no_grad():
            state, val_losses = zero_state(args, b), []
            for x, y in zip(vx, vy):
                logits, state = model(torch.from_numpy(x), state)
                val_losses.append(loss_fn(logits.reshape(-1, len(chars)), torch.from_numpy(y).reshape(-1)).item())
            val_loss = float(np.mean(val_losses))
            sample = sample_text(model, args, chars, 200)
        with tempfile.TemporaryDirectory() as tmp:
            torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, Path(tmp) / "ckpt.pt")
    print(json.dumps({"train_loss": train_loss, "val_loss": val_loss, "steps": total, "first_step_s": first_step_s,
                      "sample_chars": len(sample), "wall_s": time.perf_counter() - START}))


def sample_text(model: CharLSTM, args, chars: list[str], n: int) -> str:
    generator = torch.Generator().manual_seed(args.seed)
    state, x, out = zero_state(args, 1), torch.zeros(1, 1, dtype=torch.int64), []
    for _ in range(n):
        logits, state = model(x, state)
        x = torch.multinomial(torch.softmax(logits[0, -1], dim=-1), 1, generator=generator).view(1, 1)
        out.append(chars[int(x)])
    return "".join(out)


if __name__ == "__main__":
    main()
