"""The language server's pieces that are not pygls wiring: position conversion, hover text."""
