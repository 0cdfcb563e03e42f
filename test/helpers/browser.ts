/**
 * Headless Debian chromium (/usr/bin/chromium) driven by playwright-core, for the dashboard's
 * browser tests. Never downloads a browser. The background-networking flags keep chromium from
 * flooding the closed network with update and sync requests.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type ConsoleMessage, type Page } from 'playwright-core';
import { buildWeb } from '../../scripts/build-web.ts';

export const CHROMIUM = process.env.FACEGATE_CHROMIUM ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];

export function chromiumAvailable(): boolean {
  return existsSync(CHROMIUM);
}

/**
 * Builds the dashboard's bundle into `outDir` and has the service serve it (FACEGATE_WEB_DIR) until
 * `t` ends, when the variable is put back. Resolves to the build's figures.
 */
export async function servedDashboard(t: { teardown(fn: () => void): void }, outDir: string): Promise<Awaited<ReturnType<typeof buildWeb>>> {
  const web = await buildWeb({ outDir });
  const before = process.env.FACEGATE_WEB_DIR;
  process.env.FACEGATE_WEB_DIR = web.outDir;
  t.teardown(() => {
    if (before === undefined) delete process.env.FACEGATE_WEB_DIR;
    else process.env.FACEGATE_WEB_DIR = before;
  });
  return web;
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

export interface PageProbe {
  readonly page: Page;
  readonly context: BrowserContext;
  /** Console errors and CSP violations the page reported. */
  readonly problems: string[];
  /** Every URL the page requested (to check no token ever lands in one). */
  readonly urls: string[];
}

/** A fresh context + page (own sessionStorage) recording console errors and request URLs. */
export async function openPage(browser: Browser, opts: { viewport?: { width: number; height: number } } = {}): Promise<PageProbe> {
  const context = await browser.newContext({ viewport: opts.viewport ?? { width: 1280, height: 860 } });
  const page = await context.newPage();
  const problems: string[] = [];
  const urls: string[] = [];
  page.on('console', (m: ConsoleMessage) => {
    // A 401/503 the page handles (wrong token, no frame yet) is logged by chromium as a failed
    // resource: not a problem. Anything else (CSP violations, exceptions) is.
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('request', (r) => urls.push(r.url()));
  page.on('websocket', (ws) => urls.push(ws.url()));
  return { page, context, problems, urls };
}
