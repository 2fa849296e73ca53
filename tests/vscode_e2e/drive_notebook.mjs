// Drives a running code-server (real VS Code 1.100.3) with playwright-core and
// Debian's Chromium on a Jupyter notebook (VS Code's built-in ipynb serializer, no
// Jupyter extension): open model.ipynb, wait for the squiggle and say in which cell
// each squiggle is, read the Problems panel, hover the squiggle, apply the quick fix
// (Ctrl+. then Enter) in that cell, save, and write what happened as JSON.
//
//   node drive_notebook.mjs URL WORKSPACE OUT.json SCREENSHOT_DIR
import { chromium } from "playwright-core";
import fs from "node:fs";
import path from "node:path";

const [url, workspace, outFile, shots] = process.argv.slice(2);
const result = { steps: [] };
const step = (name, extra = {}) => { result.steps.push({ name, t: Date.now(), ...extra }); };
const text = (s) => (s || "").replace(/\u00a0/g, " ");

// The notebook's cells as rendered: for each code cell row (by its index in the list),
// its editor's lines and how many error/warning squiggles it shows.
const cells = () => Array.from(document.querySelectorAll(".notebook-editor .monaco-list-row.code-cell-row"))
  .map((row) => ({
    index: Number(row.getAttribute("data-index")),
    lines: Array.from(row.querySelectorAll(".cell-editor-container .view-lines .view-line"))
      .sort((a, b) => parseFloat(a.style.top) - parseFloat(b.style.top))
      .map((l) => (l.textContent || "").replace(/\u00a0/g, " ")),
    squiggles: row.querySelectorAll(".squiggly-error, .squiggly-warning").length,
  }))
  .sort((a, b) => a.index - b.index);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"],
});
const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
try {
  await page.goto(`${url}/?folder=${encodeURIComponent(workspace)}`);
  await page.waitForSelector(".monaco-workbench", { timeout: 60000 });
  step("workbench");

  await page.keyboard.press("Control+P");
  await page.waitForSelector(".quick-input-widget:not([style*='display: none']) input", { timeout: 20000 });
  await page.keyboard.type("model.ipynb");
  const row = page.locator(".quick-input-list .monaco-list-row").first();
  await row.waitFor({ timeout: 20000 });
  await row.click();
  await page.waitForFunction(() => document.querySelectorAll(
    ".notebook-editor .monaco-list-row.code-cell-row .cell-editor-container .view-line").length > 0, null, { timeout: 60000 });
  step("opened");

  await page.waitForSelector(".notebook-editor .squiggly-error", { timeout: 120000 });
  await page.waitForTimeout(1000);  // let every cell's decorations render
  result.cells = await page.evaluate(cells);
  step("squiggle");

  await page.keyboard.press("Control+Shift+M");
  const markers = page.locator(".markers-panel");
  await markers.waitFor({ timeout: 20000 });
  await page.waitForFunction(() => /TL201/.test(document.querySelector(".markers-panel")?.textContent || ""), null, { timeout: 20000 });
  result.problems = text(await markers.innerText());
  step("problems");

  // The third cell (index 2 in the list): hover `30` in `head = nn.Linear(30, 5)`.
  const cell3 = page.locator(".notebook-editor .monaco-list-row.code-cell-row[data-index='2']");
  const headLine = cell3.locator(".cell-editor-container .view-lines .view-line", { hasText: /head\s=\snn\.Linear\(30,\s5\)/ }).first();
  // A column's position from the line's text span (the .view-line itself is as wide as the editor).
  const at = async (line, needle, offset) => {
    const span = line.locator(":scope > span").first();
    const box = await span.boundingBox();
    const content = text(await span.textContent());
    const charWidth = box.width / Math.max(content.length, 1);
    return { x: box.x + (content.indexOf(needle) + offset) * charWidth, y: box.y + box.height / 2 };
  };
  const pos = await at(headLine, "30", 1);
  await page.mouse.move(pos.x, pos.y);
  await page.waitForFunction(() => {
    const el = document.querySelector(".monaco-hover:not(.hidden)");
    return el && /TL201/.test(el.textContent || "") && /expects \[/.test(el.textContent || "");
  }, null, { timeout: 30000 });
  await page.waitForTimeout(800);  // the hover fades in
  result.hover = text(await page.locator(".monaco-hover:not(.hidden)").first().innerText());
  await page.screenshot({ path: path.join(shots, "vscode-notebook-hover.png") });
  step("hover");

  // The hover of a tensor in that cell: `features` in `logits = head(features)`.
  await page.mouse.move(10, 10);
  await page.waitForFunction(() => !document.querySelector(".monaco-hover:not(.hidden)"), null, { timeout: 20000 });
  const logitsLine = cell3.locator(".cell-editor-container .view-lines .view-line", { hasText: /logits\s=\shead\(features\)/ }).first();
  const fPos = await at(logitsLine, "features", 2);
  await page.mouse.move(fPos.x, fPos.y);
  await page.waitForFunction(() => {
    const el = document.querySelector(".monaco-hover:not(.hidden)");
    return el && /Tensor\[/.test(el.textContent || "");
  }, null, { timeout: 30000 });
  await page.waitForTimeout(800);
  result.tensorHover = text(await page.locator(".monaco-hover:not(.hidden)").first().innerText());
  await page.screenshot({ path: path.join(shots, "vscode-notebook-tensor-hover.png") });
  step("tensor hover");

  // The quick fix: cursor on the squiggle in cell 3, Ctrl+. , the preferred fix first.
  await page.mouse.move(10, 10);
  await page.mouse.click(pos.x, pos.y);
  await page.keyboard.press("Control+.");
  // (the notebook has .context-view elements of its own: the action widget with text is the menu)
  const menu = page.locator(".action-widget", { hasText: /\S/ }).first();
  await menu.waitFor({ timeout: 20000 });
  result.actions = text(await menu.innerText());
  await page.waitForTimeout(300);
  await page.screenshot({ path: path.join(shots, "vscode-notebook-quickfix.png") });
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => document.querySelectorAll(".notebook-editor .squiggly-error").length === 0, null,
    { timeout: 60000 });
  step("fixed");
  result.cellsAfter = await page.evaluate(cells);
  await page.waitForFunction(() => !/TL201/.test(document.querySelector(".markers-panel")?.textContent || ""), null, { timeout: 20000 });
  result.problemsAfter = text(await markers.innerText());
  await page.screenshot({ path: path.join(shots, "vscode-notebook-fixed.png") });

  // Save: the test reads the .ipynb on disk (the edit is in cell 3's source, the rest as it was).
  const before = fs.statSync(path.join(workspace, "model.ipynb")).mtimeMs;
  await page.keyboard.press("Control+S");
  const deadline = Date.now() + 20000;
  while (fs.statSync(path.join(workspace, "model.ipynb")).mtimeMs === before) {
    if (Date.now() > deadline) throw new Error("the notebook was not saved");
    await page.waitForTimeout(200);
  }
  await page.waitForTimeout(500);
  step("saved");
  result.ok = true;
} catch (err) {
  result.ok = false;
  result.error = String(err && err.stack || err);
  try { result.cellsAtFailure = await page.evaluate(cells); } catch {}
  try {
    result.hoversAtFailure = await page.evaluate(() => Array.from(document.querySelectorAll(".monaco-hover"))
      .map((el) => `${el.className}: ${(el.textContent || "").replace(/\u00a0/g, " ")}`));
  } catch {}
  try { await page.screenshot({ path: path.join(shots, "vscode-notebook-failure.png") }); } catch {}
} finally {
  fs.writeFileSync(outFile, JSON.stringify(result, null, 2));
  await browser.close();
}
