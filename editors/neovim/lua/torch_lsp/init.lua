-- torch-lsp for Neovim 0.7-0.10 (0.11+ can use lsp/torch_lsp.lua and vim.lsp.enable).
--
--   require('torch_lsp').setup{}
--   require('torch_lsp').setup{
--     cmd = { '/path/to/venv/bin/torch-lsp', 'serve' },
--     settings = { ['torch-lsp'] = { runtime = { enabled = true } } },
--   }
--
-- On every `FileType python` buffer it starts a client for the buffer's project
-- root (the nearest directory upward with one of `root_markers`; else the file's
-- directory) or attaches the one already running there.

local M = {}

-- The defaults: the same as the 0.11+ config, ../../lsp/torch_lsp.lua (the tests
-- check that they agree). Written out here so that this file works on its own,
-- copied to ~/.config/nvim/lua/torch_lsp/init.lua without the rest of the repository.
local function settings()
  return {
    extendSelect = {},
    extendIgnore = {},
    inlayHints = true,
    reportSyntaxErrors = true,
    unsafeFixes = false,
    logLevel = 'info',
    runtime = { enabled = false }, -- executes the project's code: off unless turned on
    workspaceTrusted = true,
  }
end

M.defaults = {
  cmd = { 'torch-lsp', 'serve' },
  filetypes = { 'python' },
  root_markers = { 'pyproject.toml', 'setup.py', 'setup.cfg', '.git' },
  settings = { ['torch-lsp'] = settings() },
}

M.INSTALL_HINT = 'install it from a clone of the repository into a virtual environment '
  .. '(python3 -m venv ~/.venvs/torch-lsp && ~/.venvs/torch-lsp/bin/pip install /path/to/torch-lsp) '
  .. "and give its full path: setup{ cmd = { '/home/you/.venvs/torch-lsp/bin/torch-lsp', 'serve' } } "
  .. '(or put that bin directory on PATH)'

local warned = {} -- executables already reported missing

--- Is the server's executable there? If not, say so once (vim.notify) and how to install it.
function M.check_cmd(cmd)
  local exe = type(cmd) == 'table' and cmd[1] or nil
  if exe == nil or vim.fn.executable(exe) == 1 then
    return true
  end
  if not warned[exe] then
    warned[exe] = true
    vim.notify('torch-lsp: `' .. exe .. '` is not an executable on PATH, so the language server cannot start; '
      .. M.INSTALL_HINT, vim.log.levels.ERROR)
  end
  return false
end

M.config = nil
local clients = {} -- root directory -> client id (used where vim.lsp.start is missing)

local islist = vim.islist or vim.tbl_islist

local function merge(base, over)
  -- A list in `over` replaces the one in `base` (0.7's tbl_deep_extend merges lists by index).
  local out = vim.deepcopy(base)
  for k, v in pairs(over or {}) do
    if type(v) == 'table' and type(out[k]) == 'table' and not islist(out[k]) and (next(v) == nil or not islist(v)) then
      out[k] = merge(out[k], v)
    else
      out[k] = vim.deepcopy(v)
    end
  end
  return out
end

local function exists(path)
  return (vim.uv or vim.loop).fs_stat(path) ~= nil
end

--- The nearest directory at or above `path` holding one of `markers`, or nil.
function M.find_root(path, markers)
  local dir = vim.fn.fnamemodify(path, ':p:h')
  while true do
    for _, marker in ipairs(markers) do
      if exists(dir .. '/' .. marker) then
        return dir
      end
    end
    local parent = vim.fn.fnamemodify(dir, ':h')
    if parent == dir then
      return nil
    end
    dir = parent
  end
end

local function client_config(root)
  local cfg = M.config
  local section = cfg.settings and cfg.settings['torch-lsp'] or {}
  return {
    name = 'torch_lsp',
    cmd = cfg.cmd,
    root_dir = root,
    settings = cfg.settings,
    init_options = cfg.init_options or section,
    capabilities = cfg.capabilities,
    on_attach = cfg.on_attach,
    handlers = cfg.handlers,
    flags = cfg.flags,
  }
end

--- Start (or reuse) the client for `bufnr` and attach it; returns the client id.
function M.attach(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  if not M.config then
    M.config = vim.deepcopy(M.defaults)
  end
  if vim.bo[bufnr].buftype ~= '' then
    return nil
  end
  local name = vim.api.nvim_buf_get_name(bufnr)
  if name == '' then
    return nil
  end
  if not M.check_cmd(M.config.cmd) then
    return nil
  end
  local root = M.find_root(name, M.config.root_markers) or vim.fn.fnamemodify(name, ':p:h')
  local config = client_config(root)
  if vim.lsp.start then -- 0.8+: reuses a client with the same name and root_dir
    local id
    -- 0.8's vim.lsp.start attaches the current buffer (opts.bufnr came later).
    vim.api.nvim_buf_call(bufnr, function()
      id = vim.lsp.start(config, { bufnr = bufnr })
    end)
    return id
  end
  local id = clients[root]
  if not id or not vim.lsp.get_client_by_id(id) or vim.lsp.get_client_by_id(id).is_stopped() then
    id = vim.lsp.start_client(config)
    if not id then
      return nil
    end
    clients[root] = id
  end
  vim.lsp.buf_attach_client(bufnr, id)
  return id
end

--- setup(opts): opts override the defaults (cmd, filetypes, root_markers, settings,
--- init_options, capabilities, on_attach, handlers, flags).
function M.setup(opts)
  M.config = merge(M.defaults, opts or {})
  local group = vim.api.nvim_create_augroup('torch_lsp', { clear = true })
  vim.api.nvim_create_autocmd('FileType', {
    group = group,
    pattern = M.config.filetypes,
    callback = function(args)
      M.attach(args.buf)
    end,
    desc = 'torch-lsp: start or attach the language server',
  })
  -- Buffers already open with a matching filetype.
  for _, buf in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(buf) and vim.tbl_contains(M.config.filetypes, vim.bo[buf].filetype) then
      M.attach(buf)
    end
  end
end

return M
