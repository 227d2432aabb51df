/** The operator page: every user's spend against their caps, a form to set caps, disable/enable, and the policy. */
import type { BudgetCaps, BudgetOverride } from '../budget/check.js';
import { WINDOWS, type BudgetWindow } from '../budget/windows.js';
import type { ServerUrls } from '../oauth/metadata.js';
import type { User } from '../store/account-store.js';
import type { WindowTotals } from '../store/ledger-store.js';
import { html, page } from '../ui/html.js';
import type { Session } from '../ui/session.js';
import { WINDOW_TITLES, spendAgainstCap } from './usage-view.js';

export interface AdminRow {
  user: User;
  spend: Record<BudgetWindow, WindowTotals>;
  override: BudgetOverride;
  caps: BudgetCaps;
}

export interface AdminViewData {
  session: Session;
  rows: AdminRow[];
  budgetDefaults: BudgetCaps;
  policy: string[];
  notice?: AdminNotice;
}

const NOTICES = {
  'budget-set': 'The caps were saved and written to the audit log.',
  disabled: "The user was disabled: their tokens and connected applications are refused from now on.",
  enabled: 'The user was enabled again.',
  unchanged: 'Nothing changed.',
} as const;
export type AdminNotice = keyof typeof NOTICES;

export function isAdminNotice(value: unknown): value is AdminNotice {
  return typeof value === 'string' && Object.hasOwn(NOTICES, value);
}

/** What the cap field shows: the user's own cap, `none`, or empty for "the operator's default". */
function capField(o: BudgetOverride, w: BudgetWindow): string {
  const v = o[w];
  return v === undefined ? '' : v === null ? 'none' : String(v);
}

export function adminPage(urls: ServerUrls, d: AdminViewData): Response {
  const csrf = html`<input type="hidden" name="csrf" value="${d.session.csrf}">`;
  return page({
    base: urls.base,
    title: 'Operator',
    body: html`<section class="card"><div class="row"><h1>Operator</h1><a href="${urls.base}/app">Your account</a></div>
${d.notice ? html`<p class="notice" role="status" data-testid="notice">${NOTICES[d.notice]}</p>` : ''}
<p class="muted">Spend in the current UTC day, ISO week and month against each user's caps. Every change here is written to the audit log (<code>ormcp audit</code>).</p>
<table data-testid="users"><thead><tr><th scope="col">User</th>${WINDOWS.map((w) => html`<th scope="col">${WINDOW_TITLES[w]}</th>`)}<th scope="col">Access</th></tr></thead><tbody>
${d.rows.map(
  (r) => html`<tr data-user="${r.user.name}"><td><strong>${r.user.name}</strong>${r.user.disabledAt ? html` <span class="badge" data-testid="disabled">disabled</span>` : ''}</td>
${WINDOWS.map((w) => html`<td>${spendAgainstCap(r.spend[w].spentUsd, r.caps[w], `spent-${r.user.name}-${w}`)}</td>`)}
<td><form method="post" action="${urls.base}/admin/users/${r.user.disabledAt ? 'enable' : 'disable'}" ${r.user.disabledAt ? '' : html`data-confirm="Disable ${r.user.name}? Their tokens and connected applications stop working at once."`}>${csrf}<input type="hidden" name="user_id" value="${r.user.userId}"><button type="submit" class="${r.user.disabledAt ? '' : 'danger'}" aria-label="${r.user.disabledAt ? 'Enable' : 'Disable'} ${r.user.name}">${r.user.disabledAt ? 'Enable' : 'Disable'}</button></form></td></tr>
<tr class="sub"><td colspan="5"><details><summary>Caps of ${r.user.name}</summary>
<form method="post" action="${urls.base}/admin/budget" class="inline" data-testid="caps-${r.user.name}">${csrf}<input type="hidden" name="user_id" value="${r.user.userId}">
${WINDOWS.map((w) => html`<label for="cap-${r.user.userId}-${w}">${w}</label><input id="cap-${r.user.userId}-${w}" name="${w}" size="8" maxlength="12" placeholder="${d.budgetDefaults[w] !== undefined ? `default ${d.budgetDefaults[w]}` : 'default: none'}" value="${capField(r.override, w)}">`)}
<button type="submit" class="primary">Save caps</button></form>
<p class="muted">USD; <code>none</code> for no cap; empty for the operator's default.</p></details></td></tr>`,
)}</tbody></table>
</section>

<section class="card" aria-labelledby="policy-h"><h2 id="policy-h">Policy in force</h2>
<ul data-testid="policy">${d.policy.map((line) => html`<li>${line}</li>`)}</ul>
<p class="muted">Default caps: ${WINDOWS.map((w) => `${w} ${d.budgetDefaults[w] === undefined ? 'none' : `$${d.budgetDefaults[w]}`}`).join(', ')}. Set through the server's ORMCP_* variables (the stack's context).</p>
</section>`,
  });
}
