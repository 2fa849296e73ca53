-- Drives a real headless Neovim against torch-lsp for tests/test_neovim.py.
--
--   TORCH_LSP_NVIM_PARAMS=params.json nvim --headless -u NONE -i NONE -n -c "luafile driver.lua"
--
-- params.json: {
--   "mode": "config" (0.11+: lsp/torch_lsp.lua + vim.lsp.config/enable)
--         | "setup"  (require('torch_lsp').setup{}),
--   "plugin": ".../editors/neovim", "out": "result.json",
--   "cmd": [server command] (optional: else the config's own `torch-lsp serve`),
--   "settings": {"torch-lsp": {...}} (optional),
--   "timeout_ms": 30000,
--   "files": [{"path": ".../model.py", "hover": [line, col] (1-based line, 0-based byte col)}]
-- }
-- Everything observed goes to "out" as JSON; an error is recorded there too, and
-- Neovim always quits (with status 1 on an error).

local params_path = os.getenv('TORCH_LSP_NVIM_PARAMS')
local P = vim.json.decode(table.concat(vim.fn.readfile(params_path), '\n'))
local TIMEOUT = P.timeout_ms or 30000
local result = { version = tostring(vim.version().major .. '.' .. vim.version().minor .. '.' .. vim.version().patch), files = {} }
local trace = {}

local function note(msg)
  trace[#trace + 1] = string.format('%.3f %s', vim.loop.hrtime() / 1e9, msg)
end

local function write_result()
  result.trace = trace
  vim.fn.writefile({ vim.json.encode(result) }, P.out)
end

local function clients_of(bufnr)
  if vim.lsp.get_clients then
    return vim.lsp.get_clients({ bufnr = bufnr, name = 'torch_lsp' })
  end
  local out = {}
  for _, c in pairs(vim.lsp.buf_get_clients(bufnr)) do
    if c.name == 'torch_lsp' then
      out[#out + 1] = c
    end
  end
  return out
end

local function lsp_code(d)
  if d.code ~= nil then
    return d.code
  end
  return d.user_data and d.user_data.lsp and d.user_data.lsp.code
end

local function plain_diagnostics(bufnr)
  local out = {}
  for _, d in ipairs(vim.diagnostic.get(bufnr)) do
    local raw = d.user_data and d.user_data.lsp
    out[#out + 1] = {
      lnum = d.lnum, col = d.col, end_lnum = d.end_lnum, end_col = d.end_col,
      code = lsp_code(d), message = d.message, source = d.source, severity = d.severity,
      namespace = d.namespace,
      lsp_range = raw and raw.range or vim.NIL,
    }
  end
  table.sort(out, function(a, b) return a.lnum < b.lnum or (a.lnum == b.lnum and a.col < b.col) end)
  return out
end

-- The diagnostics as LSP sends them back in a code action request, the way each
-- version's vim.lsp.buf.code_action() builds its context.
local function lsp_diagnostics_at(bufnr, lnum)
  local out = {}
  for _, d in ipairs(vim.diagnostic.get(bufnr, { lnum = lnum })) do
    local raw = d.user_data and d.user_data.lsp
    if raw and raw.range then -- 0.10+: the diagnostic as received
      out[#out + 1] = raw
    end
  end
  if #out == 0 and vim.lsp.diagnostic.get_line_diagnostics then -- 0.7-0.9
    out = vim.lsp.diagnostic.get_line_diagnostics(bufnr, lnum)
  end
  return out
end

local function hover_text(bufnr, client, line, col)
  vim.api.nvim_win_set_cursor(0, { line, col })
  local params = vim.lsp.util.make_position_params(0, client.offset_encoding)
  local responses = vim.lsp.buf_request_sync(bufnr, 'textDocument/hover', params, TIMEOUT)
  for _, r in pairs(responses or {}) do
    if r.result and r.result.contents then
      local c = r.result.contents
      return type(c) == 'table' and (c.value or vim.json.encode(c)) or c
    end
  end
  return vim.NIL
end

local function inlay_hints(bufnr)
  local n = vim.api.nvim_buf_line_count(bufnr)
  local params = {
    textDocument = { uri = vim.uri_from_bufnr(bufnr) },
    range = { start = { line = 0, character = 0 }, ['end'] = { line = n, character = 0 } },
  }
  local responses = vim.lsp.buf_request_sync(bufnr, 'textDocument/inlayHint', params, TIMEOUT)
  local out = {}
  for _, r in pairs(responses or {}) do
    for _, h in ipairs(r.result or {}) do
      local label = h.label
      if type(label) == 'table' then
        local parts = {}
        for _, p in ipairs(label) do parts[#parts + 1] = p.value end
        label = table.concat(parts)
      end
      out[#out + 1] = { line = h.position.line, character = h.position.character, label = label }
    end
  end
  return out
end

local function check_file(spec)
  local res = { path = spec.path }
  result.files[#result.files + 1] = res
  vim.cmd('edit ' .. vim.fn.fnameescape(spec.path))
  local bufnr = vim.api.nvim_get_current_buf()
  res.filetype = vim.bo[bufnr].filetype
  note('opened ' .. spec.path .. ' ft=' .. res.filetype)

  local attached = vim.wait(TIMEOUT, function() return #clients_of(bufnr) > 0 end, 20)
  if not attached then
    error('no torch_lsp client attached to ' .. spec.path)
  end
  local client = clients_of(bufnr)[1]
  res.client_id = client.id
  result.offset_encoding = client.offset_encoding
  result.root_dir = client.config.root_dir
  result.client_name = client.name
  result.cmd = client.config.cmd
  note('attached client ' .. client.id)
  local caps = client.server_capabilities or client.resolved_capabilities or {}
  result.server_diagnostic_provider = caps.diagnosticProvider ~= nil

  if spec.expect_clean then
    -- The hover answers once the current version is analysed; then give the
    -- diagnostics (pushed or pulled) a moment to arrive.
    res.hover = spec.hover and hover_text(bufnr, client, spec.hover[1], spec.hover[2]) or vim.NIL
    vim.wait(1000, function() return #vim.diagnostic.get(bufnr) > 0 end, 20)
    res.diagnostics = plain_diagnostics(bufnr)
    return
  end

  if not vim.wait(TIMEOUT, function() return #vim.diagnostic.get(bufnr) > 0 end, 20) then
    error('no diagnostics for ' .. spec.path)
  end
  note('diagnostics')
  res.diagnostics = plain_diagnostics(bufnr)
  if vim.lsp.diagnostic.get_namespace then
    local ok_pull, ns_pull = pcall(vim.lsp.diagnostic.get_namespace, client.id, true)
    local ns_push = vim.lsp.diagnostic.get_namespace(client.id, false)
    res.pushed = #vim.diagnostic.get(bufnr, { namespace = ns_push })
    res.pulled = ok_pull and ns_pull ~= ns_push and #vim.diagnostic.get(bufnr, { namespace = ns_pull }) or 0
  end

  if spec.hover then
    res.hover = hover_text(bufnr, client, spec.hover[1], spec.hover[2])
    note('hover')
  end
  if spec.inlay_hints then
    res.inlay_hints = inlay_hints(bufnr)
  end

  -- Code actions at the first diagnostic, with the cursor on it (as :lua vim.lsp.buf.code_action() would).
  local first = res.diagnostics[1]
  vim.api.nvim_win_set_cursor(0, { first.lnum + 1, first.col })
  local params = vim.lsp.util.make_range_params(0, client.offset_encoding)
  params.context = { diagnostics = lsp_diagnostics_at(bufnr, first.lnum) }
  local responses = vim.lsp.buf_request_sync(bufnr, 'textDocument/codeAction', params, TIMEOUT)
  res.actions = {}
  local quickfix
  for _, r in pairs(responses or {}) do
    for _, a in ipairs(r.result or {}) do
      res.actions[#res.actions + 1] = { title = a.title, kind = a.kind, isPreferred = a.isPreferred or false }
      if not quickfix and a.kind == 'quickfix' and a.edit then
        quickfix = a
      end
    end
  end
  note('code actions: ' .. #res.actions)
  if not quickfix then
    error('no quickfix among the code actions')
  end
  res.applied = quickfix.title
  vim.lsp.util.apply_workspace_edit(quickfix.edit, client.offset_encoding)
  res.text_after_fix = table.concat(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false), '\n') .. '\n'

  res.cleared = vim.wait(TIMEOUT, function() return #vim.diagnostic.get(bufnr) == 0 end, 20)
  note('cleared=' .. tostring(res.cleared))
  -- A hover waits for the analysis of the current version: once it answers, the
  -- diagnostics of that version are in (pushed) or can be pulled.
  if spec.hover then
    res.hover_after_fix = hover_text(bufnr, client, spec.hover[1], spec.hover[2])
  end
  vim.wait(300, function() return false end)
  res.diagnostics_after_fix = plain_diagnostics(bufnr)
  vim.cmd('silent! write')
end

-- Record the first diagnostics pushed for each file as sent (positions in the client's offset encoding);
-- pulled ones keep theirs in user_data.lsp.
result.raw_pushed = {}
local push_handler = vim.lsp.handlers['textDocument/publishDiagnostics']
vim.lsp.handlers['textDocument/publishDiagnostics'] = function(err, res, ctx, config)
  if res and res.uri then
    local ranges = {}
    for _, d in ipairs(res.diagnostics or {}) do
      ranges[#ranges + 1] = { code = d.code, range = d.range }
    end
    local fname = vim.uri_to_fname(res.uri)
    if #ranges > 0 and not result.raw_pushed[fname] then -- the first non-empty push
      result.raw_pushed[fname] = ranges
    end
  end
  return push_handler(err, res, ctx, config)
end

local ok, err = xpcall(function()
  vim.opt.runtimepath:prepend(P.plugin)
  vim.cmd('filetype on')
  if P.mode == 'config' then
    local file_config = dofile(P.plugin .. '/lsp/torch_lsp.lua')
    result.file_config_cmd = file_config.cmd
    -- As a user would: nothing but vim.lsp.enable(), or vim.lsp.config() to change things.
    if P.cmd or P.settings then
      vim.lsp.config('torch_lsp', { cmd = P.cmd, settings = P.settings })
    end
    local resolved = vim.lsp.config.torch_lsp
    result.resolved = {
      cmd = resolved.cmd, filetypes = resolved.filetypes, root_markers = resolved.root_markers,
      settings = resolved.settings, init_options = resolved.init_options,
    }
    vim.lsp.enable('torch_lsp')
  else
    local opts = {}
    if P.cmd then
      opts.cmd = P.cmd
    end
    if P.settings then
      opts.settings = P.settings
    end
    require('torch_lsp').setup(opts)
  end
  for _, spec in ipairs(P.files) do
    check_file(spec)
  end
end, debug.traceback)

if not ok then
  result.error = tostring(err)
end
note('done')
-- Stop the clients, give the server a moment to exit, then quit.
for _, c in ipairs(vim.lsp.get_clients and vim.lsp.get_clients() or vim.lsp.get_active_clients()) do
  pcall(vim.lsp.stop_client, c.id)
end
vim.wait(1000, function()
  return #(vim.lsp.get_clients and vim.lsp.get_clients() or vim.lsp.get_active_clients()) == 0
end, 20)
write_result()
vim.cmd(ok and 'qall!' or 'cquit! 1')
