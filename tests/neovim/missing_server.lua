-- The Neovim set-ups when the server's executable is missing, and the setup() module
-- copied alone. Env: TORCH_LSP_MODE=config (0.11: lsp/torch_lsp.lua + vim.lsp.enable)
-- or setup (require('torch_lsp').setup{} from TORCH_LSP_RTP, which may hold only
-- lua/torch_lsp/init.lua); TORCH_LSP_OUT: where to write what was seen, as JSON.
local mode = os.getenv('TORCH_LSP_MODE')
local out = { notes = {}, clients = 0 }
local notify = vim.notify
vim.notify = function(msg, level)
  table.insert(out.notes, { msg = msg, level = level })
end
local ok, err = pcall(function()
  vim.cmd('filetype on')
  vim.opt.runtimepath:prepend(os.getenv('TORCH_LSP_RTP'))
  if mode == 'config' then
    vim.lsp.enable('torch_lsp')
  else
    local M = require('torch_lsp')
    out.defaults_cmd = M.defaults.cmd
    M.setup({})
  end
  vim.cmd('edit ' .. os.getenv('TORCH_LSP_FILE'))
  vim.cmd('edit ' .. os.getenv('TORCH_LSP_FILE2'))
  vim.wait(500, function() return false end)
  local get = vim.lsp.get_clients or vim.lsp.get_active_clients
  out.clients = #get()
end)
out.ok = ok
out.err = err and tostring(err) or nil
vim.notify = notify
local f = io.open(os.getenv('TORCH_LSP_OUT'), 'w')
f:write(vim.json.encode(out))
f:close()
vim.cmd('qa!')
