-- Loads editors/neovim's Lua files in a bare Neovim and checks what they return.
--   TORCH_LSP_PLUGIN=.../editors/neovim nvim --headless -u NONE -i NONE -n -c "luafile check_files.lua"
-- Prints "ok" and quits with status 0, or prints the error and quits with status 1.

local plugin = os.getenv('TORCH_LSP_PLUGIN')

local function eq(a, b, what)
  if not vim.deep_equal(a, b) then
    error(what .. ': expected ' .. vim.inspect(b) .. ', got ' .. vim.inspect(a), 2)
  end
end

local ok, err = pcall(function()
  -- 1. lsp/torch_lsp.lua: the vim.lsp.config table (0.11+), loadable by any version.
  local cfg = dofile(plugin .. '/lsp/torch_lsp.lua')
  eq(cfg.cmd, { 'torch-lsp', 'serve' }, 'cmd')
  eq(cfg.filetypes, { 'python' }, 'filetypes')
  eq(cfg.root_markers, { 'pyproject.toml', 'setup.py', 'setup.cfg', '.git' }, 'root_markers')
  local s = cfg.settings['torch-lsp']
  eq(s.inlayHints, true, 'inlayHints')
  eq(s.reportSyntaxErrors, true, 'reportSyntaxErrors')
  eq(s.unsafeFixes, false, 'unsafeFixes')
  eq(s.logLevel, 'info', 'logLevel')
  eq(s.runtime.enabled, false, 'runtime.enabled')
  eq(s.workspaceTrusted, true, 'workspaceTrusted')
  eq(cfg.init_options, s, 'init_options')
  assert(type(cfg.before_init) == 'function', 'before_init')
  -- before_init hands settings changed with vim.lsp.config() to initializationOptions.
  local params = { initializationOptions = vim.deepcopy(cfg.init_options) }
  local changed = vim.deepcopy(cfg)
  changed.settings['torch-lsp'].runtime = { enabled = true }
  changed.settings['torch-lsp'].extendIgnore = { 'TL201' }
  cfg.before_init(params, changed)
  eq(params.initializationOptions.runtime.enabled, true, 'before_init runtime.enabled')
  eq(params.initializationOptions.extendIgnore, { 'TL201' }, 'before_init extendIgnore')
  eq(params.initializationOptions.logLevel, 'info', 'before_init logLevel')

  -- 2. lua/torch_lsp: the setup() module (0.7-0.10).
  vim.opt.runtimepath:prepend(plugin)
  local M = require('torch_lsp')
  assert(type(M.setup) == 'function', 'setup')
  assert(type(M.attach) == 'function', 'attach')
  eq(M.defaults.cmd, cfg.cmd, 'module cmd')
  eq(M.defaults.filetypes, cfg.filetypes, 'module filetypes')
  eq(M.defaults.root_markers, cfg.root_markers, 'module root_markers')
  eq(M.defaults.settings, cfg.settings, 'module settings')
  M.setup({ cmd = { 'my-torch-lsp' }, settings = { ['torch-lsp'] = { extendIgnore = { 'TL201' } } } })
  eq(M.config.cmd, { 'my-torch-lsp' }, 'setup cmd override')
  eq(M.config.settings['torch-lsp'].extendIgnore, { 'TL201' }, 'setup settings override')
  eq(M.config.settings['torch-lsp'].inlayHints, true, 'setup keeps other settings')
  eq(M.config.filetypes, { 'python' }, 'setup keeps filetypes')
  local autocmds = vim.api.nvim_get_autocmds({ group = 'torch_lsp', event = 'FileType' })
  eq(#autocmds, 1, 'one FileType autocmd')
  M.setup({}) -- again: the autocmd is replaced, not added
  eq(#vim.api.nvim_get_autocmds({ group = 'torch_lsp', event = 'FileType' }), 1, 'setup twice')
  -- find_root: the nearest directory upward with a marker.
  local tmp = vim.fn.tempname()
  vim.fn.mkdir(tmp .. '/proj/pkg/sub', 'p')
  vim.fn.writefile({ '[project]' }, tmp .. '/proj/pyproject.toml')
  eq(M.find_root(tmp .. '/proj/pkg/sub/m.py', M.config.root_markers), vim.fn.resolve(tmp .. '/proj'), 'find_root')
  eq(M.find_root('/m.py', { 'no-such-marker-here' }), nil, 'find_root without a marker')
end)

if ok then
  io.stdout:write('ok\n')
  vim.cmd('qall!')
else
  io.stdout:write('FAILED: ' .. tostring(err) .. '\n')
  vim.cmd('cquit! 1')
end
