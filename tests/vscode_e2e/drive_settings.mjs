// Drives a running code-server whose torch-lsp.interpreter does not exist: opens model.py,
// waits for the extension's error, clicks its "Open settings" button, and writes what the
// settings editor shows (the search query, the active tab, the setting titles) as JSON.
//
//   node drive_settings.mjs URL WORKSPACE OUT.json SCREENSHOT.png
import { chromium } from "playwright-core";
import fs from "node:fs";

const [url, workspace, outFile, shot] = process.argv.slice(2);
const result = {};
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
  await page.keyboard.press("Control+P");
  await page.waitForSelector(".quick-input-widget:not([style*='display: none']) input", { timeout: 20000 });
  await page.keyboard.type("model.py");
  const row = page.locator(".quick-input-list .monaco-list-row").first();
  await row.waitFor({ timeout: 20000 });
  await row.click();
  const toast = page.locator(".notification-toast", { hasText: "cannot run the Python interpreter" });
  await toast.waitFor({ timeout: 60000 });
  result.toast = text(await toast.innerText());
  await toast.locator(".monaco-button", { hasText: "Open settings" }).first().click();
  await page.waitForSelector(".settings-editor .setting-item-title", { timeout: 30000 });
  await page.waitForTimeout(1500);  // the search applies its query
  result.query = text(await page.locator(".settings-editor .suggest-input-container .view-lines").first().innerText());
  result.tab = await page.locator(".settings-editor .settings-tabs-widget .action-label.checked").allInnerTexts();
  result.titles = (await page.locator(".settings-editor .setting-item-title").allInnerTexts()).map(text);
  result.ok = true;
} catch (err) {
  result.error = String(err).slice(0, 2000);
} finally {
  await page.screenshot({ path: shot }).catch(() => undefined);
  fs.writeFileSync(outFile, JSON.stringify(result, null, 1));
  await browser.close();
}
