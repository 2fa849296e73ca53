"""TL201-TL209 and TL301: dimension chains, tensor ops and autograd.

All of them come from one run of the abstract interpreter over the file
(``torch_lsp.analysis.interpreter``); ``shape_findings`` decides codes, places and
fixes. This module declares the rules and turns findings into diagnostics.
"""
from __future__ import annotations

import ast
import os
from typing import Callable, Iterator

from torch_lsp.analysis.context import FileContext
from torch_lsp.analysis.diagnostics import Applicability, Diagnostic, Fix, RelatedInformation, Severity, TextEdit
from torch_lsp.rules import rule

FEATURES = rule("TL201", "features-mismatch", "A layer that reads the last dimension receives a different size", Severity.ERROR, """
    ## What it does
    Follows tensor shapes through `nn.Sequential` and `forward` and finds a layer that
    reads the last dimension (`nn.Linear`'s `in_features`, `nn.LayerNorm`'s
    `normalized_shape`, `nn.MultiheadAttention`'s `embed_dim`, `nn.Bilinear`, RNN
    `input_size`, transformer `d_model`) receiving a tensor whose last dimension is
    known and different. Sizes may be symbolic: `nn.Linear(in_dim, ...)` fed by
    `nn.Linear(..., hidden_dim)` is reported when a call site binds them to different
    values.

    ## Why is this bad?
    The forward pass fails: `RuntimeError: mat1 and mat2 shapes cannot be multiplied
    (1x20 and 30x5)`, or `expected input with shape [*, 64]`.

    ## Example
    ```python
    self.fc1 = nn.Linear(10, 20)
    self.fc2 = nn.Linear(30, 5)   # receives 20 features
    ```

    ## Fix
    Set the consuming layer's size to what it receives (`nn.Linear(20, 5)`), or the
    producing layer's output to what is expected.
    """, fixable=True)

CHANNELS = rule("TL202", "channels-mismatch", "A conv or norm layer receives a different number of channels", Severity.ERROR, """
    ## What it does
    Finds `nn.Conv*d`, `nn.ConvTranspose*d`, `nn.BatchNorm*d`, `nn.GroupNorm` and
    `nn.InstanceNorm*d` receiving a tensor whose channel dimension (dimension 1, or 0
    for unbatched input) is known and different from the layer's.

    ## Why is this bad?
    `RuntimeError: Given groups=1, weight of size [64, 16, 3, 3], expected input[8, 32,
    28, 28] to have 16 channels, but got 32 channels instead`, or `running_mean should
    contain 64 elements not 32`.

    ## Example
    ```python
    nn.Sequential(nn.Conv2d(3, 32, 3), nn.ReLU(), nn.Conv2d(16, 64, 3))
    ```

    ## Fix
    `nn.Conv2d(32, 64, 3)`: make each layer's input channels match the previous
    layer's output channels.
    """, fixable=True)

FLATTEN = rule("TL203", "flatten-features-mismatch", "A Linear after a flatten expects a different flattened size", Severity.ERROR, """
    ## What it does
    When the input shape is known (from a call site or an annotation), computes the
    size that `nn.Flatten`, `torch.flatten(x, 1)` or `x.view(x.size(0), -1)` produces
    and compares it with the next `nn.Linear`'s `in_features`.

    ## Why is this bad?
    `RuntimeError: mat1 and mat2 shapes cannot be multiplied (1x400 and 256x120)`: the
    classic LeNet error when the image size or the conv stack changes.

    ## Example
    ```python
    self.fc1 = nn.Linear(16 * 4 * 4, 120)   # but 3x32x32 input gives 16 * 5 * 5 = 400
    ```

    ## Fix
    Set `in_features` to the computed size (the fix says how it was computed), or use
    `nn.LazyLinear(120)`, or an `nn.AdaptiveAvgPool2d` before flattening.
    """, fixable=True)

CALL_INPUT = rule("TL204", "call-input-mismatch", "A module is called with an input its first layer cannot take", Severity.ERROR, """
    ## What it does
    Finds a call `model(x)` where `x` has a known shape (e.g. `torch.randn(1, 1, 28,
    28)`) that the module's first layer cannot take: the wrong number of dimensions,
    channels or features.

    ## Why is this bad?
    The call raises, e.g. `expected input[1, 1, 28, 28] to have 3 channels, but got 1
    channels instead`.

    ## Example
    ```python
    model = Net()                      # first layer nn.Conv2d(3, 16, 3)
    out = model(torch.randn(1, 1, 28, 28))
    ```

    ## Fix
    Give the input the shape the model expects (here 3 channels), or change the first
    layer.
    """)

MATMUL = rule("TL205", "matmul-mismatch", "A matrix product on incompatible shapes", Severity.ERROR, """
    ## What it does
    Checks `@`, `torch.matmul`, `torch.mm`, `torch.bmm`, `F.linear` and `einsum` on
    tensors of known shapes.

    ## Why is this bad?
    `RuntimeError: mat1 and mat2 shapes cannot be multiplied (4x32 and 16x32)`.

    ## Example
    ```python
    scores = torch.bmm(q, k)            # (2, 8, 16) and (2, 8, 16)
    ```

    ## Fix
    Transpose the right operand: `torch.bmm(q, k.transpose(1, 2))`.
    """)

BROADCAST = rule("TL206", "broadcast-mismatch", "An elementwise operation on shapes that cannot broadcast", Severity.ERROR, """
    ## What it does
    Checks `+ - * /` and elementwise functions on tensors of known shapes against
    PyTorch's broadcasting rules (sizes must match or be 1, from the right).

    ## Why is this bad?
    `RuntimeError: The size of tensor a (10) must match the size of tensor b (16) at
    non-singleton dimension 1`.

    ## Example
    ```python
    logits / temperature                # (16, 10) / (16,)
    ```

    ## Fix
    Add the missing dimension: `logits / temperature[:, None]`.
    """)

RESHAPE = rule("TL207", "reshape-mismatch", "view/reshape to a different number of elements", Severity.ERROR, """
    ## What it does
    Checks `view`/`reshape` of a tensor of known size: the new shape must have the
    same number of elements, and at most one `-1`.

    ## Why is this bad?
    `RuntimeError: shape '[4, 3, 128]' is invalid for input of size 3072`, or `only
    one dimension can be inferred`.

    ## Example
    ```python
    x.view(4, 3, 128)                   # x is (4, 3, 16, 16)
    ```

    ## Fix
    `x.view(4, 3, 256)`, or `x.flatten(2)`.
    """)

CONCAT = rule("TL208", "concat-mismatch", "torch.cat / torch.stack of tensors whose other dimensions differ", Severity.ERROR, """
    ## What it does
    Checks `torch.cat` (all dimensions but the concatenated one must match) and
    `torch.stack` (all dimensions must match) on tensors of known shapes.

    ## Why is this bad?
    `RuntimeError: Sizes of tensors must match except in dimension 0`, `stack expects
    each tensor to be equal size`.

    ## Example
    ```python
    torch.stack([text_emb, image_emb])  # (8, 256) and (8, 512)
    ```

    ## Fix
    Project both to the same size first, or concatenate along the dimension that
    differs: `torch.cat([a, b], dim=1)`.
    """)

CONFIG = rule("TL209", "invalid-layer-config", "Layer arguments that can never work", Severity.ERROR, """
    ## What it does
    Finds layer arguments that fail whatever the input: `embed_dim` not divisible by
    `num_heads`, `groups` not dividing the channels, `padding='same'` with a stride,
    and a known input that shrinks to a non-positive size through convolutions and
    pooling.

    ## Why is this bad?
    Construction or the first forward pass raises: `embed_dim must be divisible by
    num_heads`, `in_channels must be divisible by groups`, `Kernel size can't be
    greater than actual input size`.

    ## Example
    ```python
    nn.MultiheadAttention(embed_dim=100, num_heads=8)
    ```

    ## Fix
    Choose sizes that divide (`embed_dim=96`), or a larger input / less downsampling.
    """)

BACKWARD = rule("TL301", "non-scalar-backward", "backward() on a tensor with more than one element", Severity.ERROR, """
    ## What it does
    Finds `t.backward()` without `gradient=` where `t` provably has more than one
    element: a loss with `reduction='none'`, an elementwise product, a model output.

    ## Why is this bad?
    `RuntimeError: grad can be implicitly created only for scalar outputs`.

    ## Example
    ```python
    loss = nn.MSELoss(reduction="none")(pred, target)
    loss.backward()
    ```

    ## Fix
    Reduce first: `loss.mean().backward()` or `loss.sum().backward()`, or pass
    `gradient=torch.ones_like(loss)`.
    """, fixable=True)


def check(ctx: FileContext) -> Iterator[Diagnostic]:
    interp = ctx.shapes
    if interp is None:
        return
    findings = list(interp.reporter.findings.values())
    if not findings:
        return
    # Origins could point into other files if their inherited methods were run: keep
    # this file's nodes. They are not run (FOLLOW_OTHER_FILES), and then every node is
    # this file's (possibly from the previous version's tree, kept by the server's
    # unit cache for unchanged code: same positions), and walking the tree is skipped.
    from torch_lsp.analysis.interpreter import FOLLOW_OTHER_FILES

    local: Callable[[int], bool]
    if FOLLOW_OTHER_FILES:
        ids = {id(n) for n in ast.walk(ctx.src.tree)} if ctx.src.tree is not None else set()
        local = ids.__contains__
    elif interp.followed_nodes:  # classes imported from other files were followed
        others = {id(n): os.path.basename(path) for cls, path in interp.followed_files() for n in ast.walk(cls)}

        def local(i: int) -> bool:
            return i not in others
    else:
        def local(_: int) -> bool:
            return True
    for f in findings:
        if not local(id(f.node)):
            continue
        r = RULES_BY_CODE[f.code]
        rng = ctx.src.range_of(f.node)
        files = others if interp.followed_nodes and not FOLLOW_OTHER_FILES else None
        related = tuple(RelatedInformation(ctx.src.range_of(n), f.text(m, files)) for n, m in f.related if n is not None and local(id(n)))
        related += tuple(RelatedInformation(src.range_of(n), f.text(m, files), None if src is ctx.src else src.path)
                         for src, n, m in f.elsewhere if n is not None)
        fixes = []
        for title, edits in f.fixes:
            if not all(local(id(n)) for n, _ in edits):
                continue
            fixes.append(Fix(title, tuple(TextEdit(ctx.src.range_of(n), text) for n, text in edits), Applicability.UNSAFE if f.code == "TL301" else Applicability.SAFE))
        yield Diagnostic(f.code, r.severity, rng, f.text(None, files), related, tuple(fixes))


RULES_BY_CODE = {r.code: r for r in (FEATURES, CHANNELS, FLATTEN, CALL_INPUT, MATMUL, BROADCAST, RESHAPE, CONCAT, CONFIG, BACKWARD)}
