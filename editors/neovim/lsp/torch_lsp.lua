-- torch-lsp for Neovim 0.11+ (vim.lsp.config / vim.lsp.enable).
--
-- With `editors/neovim` on the runtimepath (or this file copied to
-- ~/.config/nvim/lsp/torch_lsp.lua), all it takes is
--
--   vim.lsp.enable('torch_lsp')
--
-- and, to change a setting (merged into the table below):
--
--   vim.lsp.config('torch_lsp', {
--     settings = { ['torch-lsp'] = { runtime = { enabled = true } } },
--   })
--
-- The server reads its settings from `initializationOptions` and answers
-- `workspace/configuration` for the section `torch-lsp`: both carry the same table.
-- Neovim 0.7-0.10: use `require('torch_lsp').setup{}` (editors/neovim/lua) instead.

local defaults = {
  -- select / ignore (lists of rule codes) replace the project's choice when set;
  -- leaving them out keeps [tool.torch-lsp] in pyproject.toml in charge.
  extendSelect = {},
  extendIgnore = {},
  inlayHints = true,
  reportSyntaxErrors = true,
  unsafeFixes = false,
  logLevel = 'info',
  -- Runtime evaluation executes the project's code (definitions only, tensors on
  -- the meta device): off unless you turn it on.
  -- Other keys: timeout (seconds), memoryMb, python (interpreter path), reportSkipped, maxEntryPoints.
  runtime = { enabled = false },
  workspaceTrusted = true,
}

-- Neovim 0.11 resolves this file when a Python buffer opens; it then skips a config
-- whose cmd is not executable, writing that only to the LSP log: nothing happens and
-- nothing says why. So check the resolved cmd (after vim.lsp.config overrides) and
-- say it once. (Only when resolved for a Python buffer, not when merely loaded.)
if vim.lsp.config and vim.bo.filetype == 'python' then
  vim.schedule(function()
    local ok, cfg = pcall(function() return vim.lsp.config.torch_lsp end)
    local exe = ok and type(cfg) == 'table' and type(cfg.cmd) == 'table' and cfg.cmd[1] or nil
    local warned = vim.g.torch_lsp_missing_warned or {}
    if exe and vim.fn.executable(exe) ~= 1 and not vim.tbl_contains(warned, exe) then
      table.insert(warned, exe)
      vim.g.torch_lsp_missing_warned = warned
      vim.notify('torch-lsp: `' .. exe .. '` is not an executable on PATH, so the language server cannot start; '
        .. 'install it from a clone of the repository into a virtual environment '
        .. '(python3 -m venv ~/.venvs/torch-lsp && ~/.venvs/torch-lsp/bin/pip install /path/to/torch-lsp) '
        .. "and give its full path: vim.lsp.config('torch_lsp', { cmd = { '/home/you/.venvs/torch-lsp/bin/torch-lsp', 'serve' } }) "
        .. '(or put that bin directory on PATH)', vim.log.levels.ERROR)
    end
  end)
end

return {
  cmd = { 'torch-lsp', 'serve' },
  filetypes = { 'python' },
  root_markers = { 'pyproject.toml', 'setup.py', 'setup.cfg', '.git' },
  settings = { ['torch-lsp'] = vim.deepcopy(defaults) },
  init_options = vim.deepcopy(defaults),
  -- Settings changed with vim.lsp.config() also reach initializationOptions, so the
  -- first analysis already uses them.
  before_init = function(params, config)
    local s = config.settings and config.settings['torch-lsp']
    if type(s) == 'table' then
      params.initializationOptions = vim.tbl_deep_extend('force', params.initializationOptions or {}, s)
    end
  end,
}
