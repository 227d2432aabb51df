/**
 * Debian's Chromium driven by playwright-core. The browser tests never skip: a machine without Chromium fails them
 * with the one command that fixes it.
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium was not found at ${CHROMIUM_PATH}. The browser tests need it: install it with ` +
        '`sudo apt-get install -y chromium` (Debian/Ubuntu), or point CHROMIUM_PATH at a Chromium or Chrome binary.',
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    // --headless is passed explicitly as well: playwright's own headless flag differs between its versions.
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    timeout: 20_000,
  });
}

/**
 * What the pages of a test reported that none of ours may: CSP violations, script errors, missing subresources,
 * and documents served without the strict policy (errors included; redirects carry no page). `ownDocument` picks
 * the documents whose policy is checked.
 */
export class PageProblems {
  readonly cspViolations: string[] = [];
  readonly scriptErrors: string[] = [];
  readonly missingResources: string[] = [];
  readonly weakPolicies: string[] = [];

  constructor(private readonly ownDocument: (url: string) => boolean = () => true) {}

  watch(page: Page): void {
    page.on('console', (msg) => {
      if (/content security policy/i.test(msg.text())) this.cspViolations.push(msg.text());
    });
    page.on('pageerror', (err) => this.scriptErrors.push(err.message));
    page.on('response', (r) => {
      if (r.status() === 404 && r.request().resourceType() !== 'document') this.missingResources.push(r.url());
      if (r.request().resourceType() === 'document' && this.ownDocument(r.url()) && (r.status() < 300 || r.status() >= 400)) {
        const csp = r.headers()['content-security-policy'] ?? '';
        if (!csp.includes("default-src 'none'") || /unsafe-/.test(csp)) this.weakPolicies.push(`${r.url()}: ${csp || 'no CSP'}`);
      }
    });
  }

  /** Each kind on its own, so a failure names what went wrong. */
  expectNone(): void {
    expect(this.cspViolations).toEqual([]);
    expect(this.scriptErrors).toEqual([]);
    expect(this.missingResources).toEqual([]);
    expect(this.weakPolicies).toEqual([]);
  }
}

/**
 * Screenshots for the README: always taken (into a temp dir) so the code path runs in every test run; copied into
 * docs/screenshots only with UPDATE_SCREENSHOTS=1, so an ordinary run never dirties the working tree.
 */
export class Screenshots {
  static readonly docsDir = resolve(__dirname, '../../docs/screenshots');
  readonly taken: string[] = [];

  private constructor(readonly dir: string) {}

  static async create(): Promise<Screenshots> {
    return new Screenshots(await mkdtemp(join(tmpdir(), 'ormcp-screens-')));
  }

  async take(page: Page, name: string, options: { fullPage?: boolean } = {}): Promise<string> {
    const file = join(this.dir, `${name}.png`);
    await page.screenshot({ path: file, fullPage: options.fullPage ?? false, animations: 'disabled', caret: 'hide' });
    this.taken.push(file);
    if (process.env.UPDATE_SCREENSHOTS === '1') {
      await mkdir(Screenshots.docsDir, { recursive: true });
      await copyFile(file, join(Screenshots.docsDir, `${name}.png`));
    }
    return file;
  }
}
