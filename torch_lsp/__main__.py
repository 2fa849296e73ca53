from torch_lsp.cli import main

raise SystemExit(main())
