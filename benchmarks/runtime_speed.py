#!/usr/bin/env python3
"""Speed and memory of the runtime evaluation (TL901): the worker on meta tensors,
against the same model built and run for real on CPU in the same run.

Measured, with the worker the CLI and the server use (torch_lsp.runtime.client):

- cold start: a new worker's first evaluation of a tiny model (torch's import
  included);
- warm re-evaluation (median of --repeat) of a ResNet-50-sized model (Bottleneck
  blocks [3, 4, 6, 3], 224x224 input) and a ViT-B/16-sized one (12 blocks, width 768),
  each a whole job: the file's definitions executed, the model built inside
  torch.device("meta"), forward with hooks on every submodule and the line tracer;
- a 7B-parameter LLaMA-style definition (32 layers, width 4096, MLP 11008, vocabulary
  32000; 128 tokens): its evaluation time and the worker's resident memory after it;
- baseline: the ResNet-50-sized model built and run for real on CPU (batch 1) in a
  fresh process, with its peak memory.

Targets (issue 5): warm ResNet-50 re-evaluation <= 100 ms; the 7B evaluation < 2 s and
the worker's RSS < 300 MB. Exit 0 whatever the figures (a measurement, not a test).

Usage: python benchmarks/runtime_speed.py [--repeat 10] [--json OUT]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from torch_lsp.analysis.project import Project
from torch_lsp.analysis.source import SourceFile
from torch_lsp.runtime.client import RuntimeClient
from torch_lsp.runtime.jobs import call_sites
from torch_lsp.runtime.report import job_for

TINY = """\
import torch
import torch.nn as nn


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(x)


out = Tiny()(torch.randn(1, 4))
"""

RESNET50 = """\
import torch
import torch.nn as nn


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, c_in, width, stride=1):
        super().__init__()
        c_out = width * self.expansion
        self.conv1 = nn.Conv2d(c_in, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, c_out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU(inplace=True)
        self.down = None
        if stride != 1 or c_in != c_out:
            self.down = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x):
        identity = x if self.down is None else self.down(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet50(nn.Module):
    def __init__(self, num_classes=1000, layers=(3, 4, 6, 3)):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False), nn.BatchNorm2d(64),
                                  nn.ReLU(inplace=True), nn.MaxPool2d(3, stride=2, padding=1))
        blocks, c_in = [], 64
        for i, (n, width) in enumerate(zip(layers, (64, 128, 256, 512))):
            for j in range(n):
                blocks.append(Bottleneck(c_in, width, stride=2 if i > 0 and j == 0 else 1))
                c_in = width * 4
        self.blocks = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c_in, num_classes)

    def forward(self, x):
        x = self.stem(x)
        x = self.blocks(x)
        x = self.pool(x).flatten(1)
        return self.fc(x)


out = ResNet50()(torch.randn(1, 3, 224, 224))
"""

VIT_B = """\
import torch
import torch.nn as nn


class Block(nn.Module):
    def __init__(self, dim, heads, mlp):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp), nn.GELU(), nn.Linear(mlp, dim))

    def forward(self, x):
        h = self.norm1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.norm2(x))


class ViT(nn.Module):
    def __init__(self, image=224, patch=16, dim=768, depth=12, heads=12, mlp=3072, num_classes=1000):
        super().__init__()
        self.patch = nn.Conv2d(3, dim, patch, stride=patch)
        n = (image // patch) ** 2
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.zeros(1, n + 1, dim))
        self.blocks = nn.Sequential(*[Block(dim, heads, mlp) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x):
        x = self.patch(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1) + self.pos
        x = self.blocks(x)
        return self.head(self.norm(x)[:, 0])


out = ViT()(torch.randn(1, 3, 224, 224))
"""

LLAMA_7B = """\
import torch
import torch.nn as nn
import torch.nn.functional as F


class RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        return self.weight * x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim, bias=False)
        self.k = nn.Linear(dim, dim, bias=False)
        self.v = nn.Linear(dim, dim, bias=False)
        self.o = nn.Linear(dim, dim, bias=False)

    def forward(self, x):
        b, t, d = x.shape
        q = self.q(x).view(b, t, self.heads, d // self.heads).transpose(1, 2)
        k = self.k(x).view(b, t, self.heads, d // self.heads).transpose(1, 2)
        v = self.v(x).view(b, t, self.heads, d // self.heads).transpose(1, 2)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.o(y.transpose(1, 2).reshape(b, t, d))


class MLP(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.gate = nn.Linear(dim, hidden, bias=False)
        self.up = nn.Linear(dim, hidden, bias=False)
        self.down = nn.Linear(hidden, dim, bias=False)

    def forward(self, x):
        return self.down(F.silu(self.gate(x)) * self.up(x))


class Layer(nn.Module):
    def __init__(self, dim, heads, hidden):
        super().__init__()
        self.attn_norm = RMSNorm(dim)
        self.attn = Attention(dim, heads)
        self.mlp_norm = RMSNorm(dim)
        self.mlp = MLP(dim, hidden)

    def forward(self, x):
        x = x + self.attn(self.attn_norm(x))
        return x + self.mlp(self.mlp_norm(x))


class Llama(nn.Module):
    def __init__(self, vocab=32000, dim=4096, layers=32, heads=32, hidden=11008):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.layers = nn.ModuleList([Layer(dim, heads, hidden) for _ in range(layers)])
        self.norm = RMSNorm(dim)
        self.lm_head = nn.Linear(dim, vocab, bias=False)

    def forward(self, tokens):
        x = self.embed(tokens)
        for layer in self.layers:
            x = layer(x)
        return self.lm_head(self.norm(x))


logits = Llama()(torch.randint(0, 32000, (1, 128)))
"""

REAL_CPU = r"""
import resource, sys, time
import torch
ns = {}
src = open(sys.argv[1]).read().split("\nout = ")[0]
exec(compile(src, sys.argv[1], "exec"), ns)
torch.set_num_threads(1)
t0 = time.perf_counter()
model = ns["ResNet50"]()
t1 = time.perf_counter()
with torch.no_grad():
    model(torch.randn(1, 3, 224, 224))
t2 = time.perf_counter()
print(t1 - t0, t2 - t1, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def job(path: Path) -> dict:
    text = path.read_text()
    src = SourceFile.parse(text, str(path))
    return job_for(src, str(path), call_sites(src.tree), Project())


def rss_mb(pid: int) -> tuple[float, float]:
    """(resident, peak resident) MB of a process."""
    values = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0]) / 1024
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


def timed(client: RuntimeClient, j: dict) -> tuple[float, dict]:
    t0 = time.perf_counter()
    result = client.evaluate(j, timeout=300)
    return time.perf_counter() - t0, result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=10, help="warm re-evaluations per model (median)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    out: dict = {}
    with tempfile.TemporaryDirectory(prefix="torch-lsp-runtime-") as tmp:
        files = {}
        for name, text in (("tiny", TINY), ("resnet50", RESNET50), ("vit_b", VIT_B), ("llama_7b", LLAMA_7B)):
            files[name] = Path(tmp) / f"{name}.py"
            files[name].write_text(text)
        client = RuntimeClient(timeout=300)
        try:
            cold, r = timed(client, job(files["tiny"]))
            assert r.get("status") == "done", r
            out["cold_start_s"] = cold
            print(f"cold start (new worker, torch import, first tiny evaluation): {cold:.2f} s")
            for name in ("resnet50", "vit_b"):
                j = job(files[name])
                first, r = timed(client, j)
                status = r["evaluations"][0]["status"]
                warm = [timed(client, j)[0] for _ in range(args.repeat)]
                out[name] = {"first_ms": first * 1000, "warm_ms": statistics.median(warm) * 1000, "status": status,
                             "output": r["evaluations"][0].get("output")}
                print(f"{name:9s} first {first * 1000:7.1f} ms, warm re-evaluation median {statistics.median(warm) * 1000:7.1f} ms "
                      f"(min {min(warm) * 1000:.1f}), {status}, output {r['evaluations'][0].get('output')}")
            j = job(files["llama_7b"])
            first, r = timed(client, j)
            warm = [timed(client, j)[0] for _ in range(max(3, args.repeat // 3))]
            rss, peak = rss_mb(client.proc.pid)
            out["llama_7b"] = {"first_s": first, "warm_s": statistics.median(warm), "rss_mb": rss, "peak_rss_mb": peak,
                               "status": r["evaluations"][0]["status"], "output": r["evaluations"][0].get("output")}
            print(f"llama_7b  first {first:.2f} s, warm {statistics.median(warm):.2f} s, {r['evaluations'][0]['status']}, "
                  f"output {r['evaluations'][0].get('output')}; worker RSS {rss:.0f} MB (peak {peak:.0f} MB)")
        finally:
            client.close()
        proc = subprocess.run([sys.executable, "-c", REAL_CPU, str(files["resnet50"])], capture_output=True, text=True, timeout=600)
        if proc.returncode == 0:
            build, forward, peak = map(float, proc.stdout.split())
            out["resnet50_real_cpu"] = {"build_ms": build * 1000, "forward_ms": forward * 1000, "peak_rss_mb": peak}
            print(f"baseline: ResNet-50 for real on CPU (1 thread): build {build * 1000:.0f} ms, forward {forward * 1000:.0f} ms, "
                  f"peak RSS {peak:.0f} MB")
            meta = out["resnet50"]["warm_ms"]
            print(f"  meta re-evaluation / real build+forward: {meta / ((build + forward) * 1000):.2f}x")
        else:
            print("baseline failed:", proc.stderr[-500:])
    print()
    print("targets:")
    print(f"  warm ResNet-50 re-evaluation <= 100 ms: {out['resnet50']['warm_ms']:.1f} ms "
          f"{'met' if out['resnet50']['warm_ms'] <= 100 else 'NOT met'}")
    print(f"  7B definition < 2 s: {out['llama_7b']['first_s']:.2f} s {'met' if out['llama_7b']['first_s'] < 2 else 'NOT met'}")
    print(f"  worker RSS < 300 MB: {out['llama_7b']['rss_mb']:.0f} MB {'met' if out['llama_7b']['rss_mb'] < 300 else 'NOT met'}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
