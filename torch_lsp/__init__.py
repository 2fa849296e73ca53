"""torch-lsp: find PyTorch model bugs while the code is being typed."""

__version__ = "0.1.0"
