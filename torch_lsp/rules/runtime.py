"""TL9xx: runtime evaluation (opt-in). The rules are declared here; their
diagnostics come from ``torch_lsp.runtime.report`` after the evaluation in a
background process (there is no static checker for this family)."""
from __future__ import annotations

from torch_lsp.analysis.diagnostics import Severity
from torch_lsp.rules import rule

RUNTIME_SHAPE_ERROR = rule(
    "TL901",
    "runtime-shape-error",
    "Building or running the module on meta tensors raised",
    Severity.ERROR,
    """
    ## What it does
    With runtime evaluation on (`torch-lsp check --runtime`, or the editor's
    `runtime.enabled` in a trusted workspace), torch-lsp builds each module that your
    code builds and calls, with the same constructor arguments, inside
    `torch.device("meta")`, and calls it with meta tensors of the shapes your code
    makes (`model(torch.randn(2, 3, 64, 64))`). Meta tensors have shapes but no data:
    nothing is allocated or computed, yet every shape check torch makes runs. When
    torch raises, this rule reports torch's own message at the line of your file
    where it happened.

    It reports only when the input's shape came from your code (a factory call at the
    call site), never for a guessed input, and stays silent where the static rules
    (TL2xx/TL3xx) already report the problem.

    ## Why is this bad?
    The same error is raised when the model runs for real: these are the mistakes
    static analysis cannot follow (layers built in loops from configuration lists,
    sizes computed by helper functions, einsum, interpolate with odd sizes), found
    before a training run starts.

    ## Example
    ```python
    def conv_block(c_in, c_out):
        return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU())

    class Backbone(nn.Module):
        def __init__(self, width=32):
            super().__init__()
            self.stem = conv_block(3, width)
            self.stage1 = conv_block(width * 2, width * 2)  # receives `width` channels

        def forward(self, x):
            return self.stage1(self.stem(x))  # TL901 here

    Backbone()(torch.randn(2, 3, 64, 64))
    ```

    ## Fix
    Make the sizes agree (here `conv_block(width, width * 2)`). The message is the one
    torch raises; the related locations show the call that was evaluated.
    """,
)

RUNTIME_SKIPPED = rule(
    "TL902",
    "runtime-evaluation-skipped",
    "The runtime evaluation could not run",
    Severity.INFORMATION,
    """
    ## What it does
    Says why a module your code builds and calls was not evaluated on the meta
    device: its file's definitions failed to import, the evaluation took longer than
    the time limit or more memory than the cap, the worker crashed, torch is not
    installed for the worker's interpreter, or the model uses an operation whose
    result depends on data (`.item()`, `nonzero()`), which meta tensors cannot run.

    It is for logs and hovers: it becomes a diagnostic only when asked for
    (`--runtime-report-skipped`, or `runtime.report-skipped = true` in
    `[tool.torch-lsp]`).

    ## Why is this bad?
    It is not a bug in your code: it tells you the runtime check did not happen, so
    its silence means nothing for that module.

    ## Example
    ```python
    class Net(nn.Module):
        def forward(self, x):
            n = int(x.sum().item())  # data-dependent: cannot run on meta tensors
            ...
    ```

    ## Fix
    Nothing to fix in the model. Raise the limits (`runtime.timeout`,
    `runtime.memory-mb`) if the evaluation was cut short, install torch for the
    worker's interpreter, or leave it.
    """,
)
