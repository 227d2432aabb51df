/**
 * The README's ChatGPT steps and `ormcp client-config chatgpt` name the same menus: both come from CHATGPT_MENUS,
 * and this holds the README (which cannot import it) to that one source.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { CHATGPT_MENUS } from '../../lambda/mcp-clients/client-snippets.js';
import { runCli } from './support.js';

/** The README's ChatGPT section: from its bold heading to the next client's. */
function readmeChatGptSection(): string {
  const readme = readFileSync(resolve('README.md'), 'utf8');
  const start = readme.indexOf('**ChatGPT**');
  const end = readme.indexOf('\n**', start + 1);
  expect(start).toBeGreaterThan(0);
  return readme.slice(start, end === -1 ? undefined : end);
}

/** What is left of `text` once the known menu paths are taken out: any arrow still in it is another menu path. */
function otherArrows(text: string, menus: readonly string[]): string[] {
  const rest = menus.reduce((t, menu) => t.split(menu).join(''), text);
  return rest.split('\n').filter((line) => line.includes('→'));
}

test('the README names exactly the ChatGPT menus client-config prints', async () => {
  const section = readmeChatGptSection();
  const menus = Object.values(CHATGPT_MENUS);
  for (const menu of menus) expect({ menu, inReadme: section.includes(menu) }).toEqual({ menu, inReadme: true });
  // No other path: a renamed menu updated in one place only shows up here.
  expect(otherArrows(section, menus)).toEqual([]);

  const cli = await runCli(['client-config', 'chatgpt', '--url', 'https://mcp.example.com/mcp']);
  for (const menu of menus) expect({ menu, inCli: cli.stdout.includes(menu) }).toEqual({ menu, inCli: true });
  expect(otherArrows(cli.stdout, menus)).toEqual([]);
});
