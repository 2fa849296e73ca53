// Drives a running code-server (real VS Code 1.100.3) with playwright-core and
// Debian's Chromium: open the buggy model, wait for the squiggle and its Problems
// entry, hover a tensor, apply the quick fix, and write what happened as JSON.
//
//   node drive.mjs URL WORKSPACE OUT.json SCREENSHOT_DIR
import { chromium } from "playwright-core";
import fs from "node:fs";
import path from "node:path";

const [url, workspace, outFile, shots] = process.argv.slice(2);
const result = { steps: [] };
const step = (name, extra = {}) => { result.steps.push({ name, t: Date.now(), ...extra }); };
const text = (s) => (s || "").replace(/\u00a0/g, " ");

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
  await page.keyboard.type("model.py");
  const row = page.locator(".quick-input-list .monaco-list-row").first();
  await row.waitFor({ timeout: 20000 });
  await row.click();
  await page.waitForSelector(".monaco-editor .view-lines", { timeout: 20000 });
  step("opened");

  await page.waitForSelector(".squiggly-error", { timeout: 120000 });
  step("squiggle");

  await page.keyboard.press("Control+Shift+M");
  const markers = page.locator(".markers-panel");
  await markers.waitFor({ timeout: 20000 });
  await page.waitForFunction(() => /TL201/.test(document.querySelector(".markers-panel")?.textContent || ""), null, { timeout: 20000 });
  result.problems = text(await markers.innerText());
  step("problems");

  // Hover `h` on the line `h = self.fc1(x)`.
  const lines = page.locator(".monaco-editor .view-lines .view-line");
  // A column's position from the line's text span (the .view-line itself is as wide as the editor).
  const at = async (line, needle, offset) => {
    const span = line.locator(":scope > span").first();
    const box = await span.boundingBox();
    const content = text(await span.textContent());
    const charWidth = box.width / Math.max(content.length, 1);
    return { x: box.x + (content.indexOf(needle) + offset) * charWidth, y: box.y + box.height / 2 };
  };
  const hLine = lines.filter({ hasText: /h\s=\sself\.fc1\(x\)/ }).first();
  const hPos = await at(hLine, "h = self", 0.5);
  await page.mouse.move(hPos.x, hPos.y);
  await page.waitForFunction(() => {
    const el = document.querySelector(".monaco-hover:not(.hidden)");
    return el && /Tensor\[/.test(el.textContent || "");
  }, null, { timeout: 30000 });
  result.hover = text(await page.locator(".monaco-hover:not(.hidden)").first().innerText());
  await page.waitForTimeout(800);  // the hover fades in
  await page.screenshot({ path: path.join(shots, "vscode-hover.png") });
  step("hover");

  // The quick fix: cursor on the squiggle, Ctrl+. , the preferred fix first.
  await page.mouse.move(10, 10);
  const fcLine = lines.filter({ hasText: /fc2\s=\snn\.Linear\(30,\s5\)/ }).first();
  const fPos = await at(fcLine, "30", 1);
  await page.mouse.click(fPos.x, fPos.y);
  await page.keyboard.press("Control+.");
  await page.waitForSelector(".action-widget, .context-view .monaco-list", { timeout: 20000 });
  result.actions = text(await page.locator(".action-widget, .context-view").first().innerText());
  await page.waitForTimeout(300);
  await page.screenshot({ path: path.join(shots, "vscode-quickfix.png") });
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => document.querySelectorAll(".squiggly-error").length === 0, null, { timeout: 60000 });
  step("fixed");
  result.after = (await lines.allTextContents()).map(text);
  await page.waitForFunction(() => !/TL201/.test(document.querySelector(".markers-panel")?.textContent || ""), null, { timeout: 20000 });
  result.problemsAfter = text(await markers.innerText());
  await page.screenshot({ path: path.join(shots, "vscode-fixed.png") });

  // The command palette: the model summary (a read-only view beside the editor), then a restart.
  const palette = async (command) => {
    await page.keyboard.press("Control+Shift+P");
    await page.waitForSelector(".quick-input-widget:not([style*='display: none']) input", { timeout: 20000 });
    await page.keyboard.type(command);
    const entry = page.locator(".quick-input-list .monaco-list-row", { hasText: command }).first();
    await entry.waitFor({ timeout: 20000 });
    await entry.click();
  };
  await palette("torch-lsp: Show Model Summary");
  const summaryTab = page.locator(".tabs-container .tab", { hasText: "(model summary)" }).first();
  await summaryTab.waitFor({ timeout: 60000 });
  await page.waitForTimeout(1000);
  result.summaryTab = text(await summaryTab.innerText());
  result.summaryTabClass = await summaryTab.getAttribute("class");
  // Opened beside, without the focus: the text is in the editor group that has the summary's tab.
  const summaryGroup = page.locator(".editor-group-container", { has: page.locator(".tab", { hasText: "(model summary)" }) });
  result.summaryText = (await summaryGroup.first().locator(".monaco-editor .view-lines .view-line").allTextContents())
    .map(text).join("\n");
  step("summary");
  await palette("torch-lsp: Restart Server");
  await page.waitForTimeout(5000);  // the old server exits, the new one starts
  step("restarted");
  result.ok = true;
} catch (err) {
  result.ok = false;
  result.error = String(err && err.stack || err);
  try { await page.screenshot({ path: path.join(shots, "vscode-failure.png") }); } catch {}
} finally {
  fs.writeFileSync(outFile, JSON.stringify(result, null, 2));
  await browser.close();
}
