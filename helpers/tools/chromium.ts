// A report file opened in headless Chromium (the runner's and the matrix's HTML tests):
// the page, and every console error or page error it raised.
import type { Page } from 'playwright-core';
import { chromiumPath } from '../config/target.ts';

export async function inChromium<T>(
  file: string,
  viewport: { width: number; height: number },
  fn: (page: Page, errors: string[]) => Promise<T>,
): Promise<T> {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: chromiumPath(),
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  try {
    const page = await browser.newPage({ viewport });
    const errors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`file://${file}`);
    return await fn(page, errors);
  } finally {
    await browser.close();
  }
}
