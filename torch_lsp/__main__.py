from torch_lsp.cli import run

run()
