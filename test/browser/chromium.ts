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
