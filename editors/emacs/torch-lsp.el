;;; torch-lsp.el --- torch-lsp with Emacs' built-in eglot  -*- lexical-binding: t; -*-

;; Eglot (Emacs 29+) runs one server per buffer: this makes torch-lsp the Python server.
;; Load this file from your init file, or copy the forms into it.

(with-eval-after-load 'eglot
  (add-to-list 'eglot-server-programs
               '((python-mode python-ts-mode) . ("torch-lsp" "serve"))))

;; The "torch-lsp" section of workspace/configuration (the server asks for it).
(setq-default eglot-workspace-configuration
              '(:torch-lsp (:inlayHints t
                            :reportSyntaxErrors t
                            ;; executes the project's definitions on the meta device:
                            :runtime (:enabled :json-false))))

(add-hook 'python-mode-hook #'eglot-ensure)
(add-hook 'python-ts-mode-hook #'eglot-ensure)

(provide 'torch-lsp)
;;; torch-lsp.el ends here
