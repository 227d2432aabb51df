/** The signed-in user's usage page: spend against caps per window, the last 30 days, spend by model, their defaults. */
import type { BudgetCaps } from '../budget/check.js';
import { WINDOWS, type BudgetWindow } from '../budget/windows.js';
import type { ServerUrls } from '../oauth/metadata.js';
import type { UserDefaults } from '../policy/user-defaults.js';
import type { WindowTotals } from '../store/ledger-store.js';
import { usd } from './dashboard.js';
import { html, page, type Html } from '../ui/html.js';
import type { Session } from '../ui/session.js';
import { dailySpendChart, type ChartDay } from './usage-chart.js';

export interface UsageViewData {
  userName: string;
  session: Session;
  windows: Record<BudgetWindow, WindowTotals & { resetsAt: string }>;
  caps: BudgetCaps;
  days: ChartDay[];
  models: { model: string; spentUsd: number; calls: number }[];
  defaults?: UserDefaults;
  /** The policy in force, for people. */
  policy: string[];
  saved?: boolean;
}

export const WINDOW_TITLES: Record<BudgetWindow, string> = { daily: 'Today', weekly: 'This week', monthly: 'This month' };

/** "$0.20 of $1.00" with a meter; "$0.20 (no cap)" without a cap. */
export function spendAgainstCap(spent: number, cap: number | undefined, testId: string): Html {
  if (cap === undefined) return html`<span data-testid="${testId}">${usd(spent)}</span> <span class="muted">(no cap)</span>`;
  const ratio = cap > 0 ? Math.min(1, spent / cap) : 1;
  return html`<span data-testid="${testId}">${usd(spent)}</span> of ${usd(cap)}
<meter min="0" max="1" low="0.75" high="0.9" optimum="0" value="${ratio.toFixed(3)}" aria-label="${Math.round(ratio * 100)}% of the cap">${Math.round(ratio * 100)}%</meter>`;
}

const option = (value: string, label: string, current: string | undefined) => html`<option value="${value}"${current === value ? html` selected` : ''}>${label}</option>`;

export function usagePage(urls: ServerUrls, d: UsageViewData): Response {
  const csrf = html`<input type="hidden" name="csrf" value="${d.session.csrf}">`;
  const def = d.defaults ?? {};
  return page({
    base: urls.base,
    title: 'Your usage',
    body: html`<section class="card"><div class="row"><h1>Your usage</h1><a href="${urls.base}/app">Back to your account</a></div>
${d.saved ? html`<p class="notice" role="status" data-testid="notice">Your defaults were saved.</p>` : ''}
<p class="muted">Signed in as <strong>${d.userName}</strong>. Days, weeks (Monday to Sunday) and months are UTC.</p>
<dl class="usage">${WINDOWS.map((w) => html`<dt>${WINDOW_TITLES[w]}</dt><dd>${spendAgainstCap(d.windows[w].spentUsd, d.caps[w], `spent-${w}`)}${d.windows[w].reservedUsd > 0 ? html` <span class="muted">(${usd(d.windows[w].reservedUsd)} held by running calls)</span>` : ''}</dd>`)}</dl>
</section>

<section class="card" aria-labelledby="chart-h"><h2 id="chart-h">Daily spend, last 30 days</h2>
${dailySpendChart(d.days, `Daily spend from ${d.days[0]?.day ?? ''} to ${d.days[d.days.length - 1]?.day ?? ''}`)}
</section>

<section class="card" aria-labelledby="models-h"><h2 id="models-h">Spend by model, last 30 days</h2>
${
  d.models.length
    ? html`<table data-testid="models"><thead><tr><th scope="col">Model</th><th scope="col">Spent</th><th scope="col">Calls</th></tr></thead><tbody>
${d.models.map((m) => html`<tr><td><code>${m.model}</code></td><td>${usd(m.spentUsd)}</td><td>${m.calls}</td></tr>`)}</tbody></table>`
    : html`<p>No calls in the last 30 days.</p>`
}
</section>

<section class="card" aria-labelledby="defaults-h"><h2 id="defaults-h">Your defaults</h2>
<p class="muted">Used when a call leaves the field out. The operator's policy still applies on top.</p>
<form method="post" action="${urls.base}/app/defaults" class="stack">${csrf}
<label for="d-model">Default model</label><input id="d-model" name="model" maxlength="200" placeholder="e.g. openai/gpt-4o" value="${def.model ?? ''}">
<label for="d-max">Default max_tokens</label><input id="d-max" name="max_tokens" inputmode="numeric" maxlength="7" placeholder="none" value="${def.max_tokens ?? ''}">
<label for="d-sort">Provider order</label><select id="d-sort" name="sort">${option('', "OpenRouter's default", def.provider?.sort)}${option('price', 'cheapest first', def.provider?.sort)}${option('throughput', 'fastest throughput first', def.provider?.sort)}${option('latency', 'lowest latency first', def.provider?.sort)}</select>
<label for="d-data">Data collection by providers</label><select id="d-data" name="data_collection">${option('', "OpenRouter's default", def.provider?.data_collection)}${option('deny', 'deny: only providers that do not store data', def.provider?.data_collection)}${option('allow', 'allow', def.provider?.data_collection)}</select>
<label for="d-effort">Reasoning effort</label><select id="d-effort" name="reasoning_effort">${option('', "the model's default", def.reasoning_effort)}${(['minimal', 'low', 'medium', 'high', 'xhigh', 'max', 'none'] as const).map((e) => option(e, e, def.reasoning_effort))}</select>
<div class="actions"><button type="submit" class="primary">Save defaults</button></div>
</form>
</section>

<section class="card" aria-labelledby="policy-h"><h2 id="policy-h">The operator's policy</h2>
<ul>${d.policy.map((line) => html`<li>${line}</li>`)}</ul>
</section>`,
  });
}

/** The defaults form as the object UserDefaultsSchema validates; an empty field leaves that default unset. */
export function defaultsFromForm(form: URLSearchParams): Record<string, unknown> {
  const text = (name: string) => (form.get(name) ?? '').trim();
  const out: Record<string, unknown> = {};
  if (text('model')) out.model = text('model');
  if (text('max_tokens')) out.max_tokens = /^\d{1,9}$/.test(text('max_tokens')) ? Number(text('max_tokens')) : text('max_tokens');
  const provider: Record<string, unknown> = {};
  if (text('sort')) provider.sort = text('sort');
  if (text('data_collection')) provider.data_collection = text('data_collection');
  if (Object.keys(provider).length) out.provider = provider;
  if (text('reasoning_effort')) out.reasoning_effort = text('reasoning_effort');
  return out;
}
