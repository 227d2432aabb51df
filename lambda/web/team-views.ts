/**
 * The team-control pages behind a session: a user's own usage and defaults (`/app/usage`, `/app/defaults`) and the
 * operator page (`/admin`, `/admin/budget`, `/admin/users/disable|enable`) for sessions marked admin at sign-in.
 * Every operator action is written to the target user's audit log with the acting user's id.
 */
import { effectiveCaps, type BudgetCaps, type BudgetOverride } from '../budget/check.js';
import { dayKey, dayKeysBetween, WINDOWS, type BudgetWindow } from '../budget/windows.js';
import { sameOrigin } from '../http/origin.js';
import { readPageForm } from '../ui/page-form.js';
import type { ServerUrls } from '../oauth/metadata.js';
import type { Logger } from '../observability/logger.js';
import { createPolicy, describePolicy, type PolicySettings } from '../policy/policy.js';
import type { UserDefaults } from '../policy/user-defaults.js';
import { StoreError, type AccountStore } from '../store/account-store.js';
import type { LedgerStore } from '../store/ledger-store.js';
import { adminPage, isAdminNotice, type AdminNotice } from './admin-view.js';
import { redirect } from '../ui/html.js';
import { errorPage } from '../ui/pages.js';
import { csrfMatches, type Session } from '../ui/session.js';
import { defaultsFromForm, usagePage } from './usage-view.js';

export interface TeamViewOptions {
  ledger: LedgerStore;
  budgetDefaults: BudgetCaps;
  policy: PolicySettings;
}

/** Days in the chart and the by-model table. */
export const CHART_DAYS = 30;
/** Users the operator page lists (it reads each one's windows and caps). */
export const ADMIN_MAX_USERS = 500;
const USER_ID = /^[A-Za-z0-9_.@+:-]{1,200}$/;

export class TeamViews {
  constructor(
    private readonly o: TeamViewOptions & { accounts: AccountStore; logger: Logger; now?: () => Date },
  ) {}

  private now(): Date {
    return this.o.now?.() ?? new Date();
  }

  async usage(session: Session, urls: ServerUrls, saved: boolean): Promise<Response> {
    const user = await this.o.accounts.getUser(session.userId);
    if (!user) return errorPage(urls.base, 'Signed out', 'Your account no longer exists.', 404);
    const now = this.now();
    const until = dayKey(now);
    const since = dayKey(new Date(now.getTime() - (CHART_DAYS - 1) * 86_400_000));
    const [snapshot, days, models] = await Promise.all([this.o.ledger.readUsage(user.userId, now), this.o.ledger.dailyTotals(user.userId, since, until), this.o.ledger.modelTotals(user.userId, since, until)]);
    const byDay = new Map(days.map((d) => [d.day, d.spentUsd]));
    const byModel = new Map<string, { spentUsd: number; calls: number }>();
    for (const m of models) {
      const acc = byModel.get(m.model) ?? { spentUsd: 0, calls: 0 };
      byModel.set(m.model, { spentUsd: acc.spentUsd + m.spentUsd, calls: acc.calls + m.calls });
    }
    return usagePage(urls, {
      userName: user.name,
      session,
      windows: snapshot.windows,
      caps: effectiveCaps(this.o.budgetDefaults, snapshot.override),
      days: dayKeysBetween(since, until).map((day) => ({ day, spentUsd: byDay.get(day) ?? 0 })),
      models: [...byModel].map(([model, t]) => ({ model, ...t })).sort((a, b) => b.spentUsd - a.spentUsd),
      ...(snapshot.defaults ? { defaults: snapshot.defaults } : {}),
      policy: describePolicy(createPolicy(this.o.policy)).summary,
      saved,
    });
  }

  async saveDefaults(session: Session, form: URLSearchParams, urls: ServerUrls): Promise<Response> {
    try {
      const previous = await this.o.ledger.getDefaults(session.userId);
      await this.o.ledger.setDefaults(session.userId, withKeptZdr(defaultsFromForm(form), previous));
    } catch (err) {
      if (err instanceof StoreError && err.code === 'invalid_input') return errorPage(urls.base, 'Invalid defaults', `${err.message}. Nothing was changed.`, 400);
      throw err;
    }
    this.o.logger.info('user defaults saved', { user_id: session.userId });
    return redirect(`${urls.base}/app/usage?done=saved`, [], 303);
  }

  /** `/admin` and `/admin/*` for a signed-in session; a non-admin gets 403 whatever the path or method. */
  async admin(request: Request, session: Session, path: string, urls: ServerUrls): Promise<Response> {
    if (!session.admin) return errorPage(urls.base, 'Not allowed', 'This page is for the operators of this server.', 403);
    const method = request.method;
    if (method === 'GET' || method === 'HEAD') {
      if (path !== '/admin') return errorPage(urls.base, 'Not found', 'There is no such page.', 404);
      const done = new URL(request.url).searchParams.get('done');
      return this.adminOverview(session, urls, isAdminNotice(done) ? done : undefined);
    }
    if (method !== 'POST') return errorPage(urls.base, 'Method not allowed', 'Use GET or POST.', 405);
    const form = await readPageForm(request, urls.base);
    if (form instanceof Response) return form;
    if (!csrfMatches(session, form.get('csrf')) || !sameOrigin(request, urls.base)) {
      return errorPage(urls.base, 'Request refused', 'This form was not submitted from this site or your session changed. Reload the page and try again.', 403);
    }
    const userId = form.get('user_id') ?? '';
    const target = USER_ID.test(userId) ? await this.o.accounts.getUser(userId) : undefined;
    if (!target) return errorPage(urls.base, 'No such user', 'That user does not exist. Nothing was changed.', 404);
    switch (path) {
      case '/admin/budget':
        return this.setCaps(session, target.userId, form, urls);
      case '/admin/users/disable':
      case '/admin/users/enable': {
        const disable = path.endsWith('/disable');
        if (disable && target.userId === session.userId) return errorPage(urls.base, 'Not allowed', 'You cannot disable your own account here. Nothing was changed.', 400);
        const changed = await this.o.accounts.setUserDisabled(target.userId, disable);
        if (changed) await this.audit(session, disable ? 'user.disable' : 'user.enable', target.userId);
        return this.done(urls, changed ? (disable ? 'disabled' : 'enabled') : 'unchanged');
      }
      default:
        return errorPage(urls.base, 'Not found', 'There is no such action.', 404);
    }
  }

  private async adminOverview(session: Session, urls: ServerUrls, notice?: AdminNotice): Promise<Response> {
    const users = (await this.o.accounts.listUsers()).slice(0, ADMIN_MAX_USERS);
    const spend = await this.o.ledger.currentSpend(users.map((u) => u.userId), this.now());
    const overrides: BudgetOverride[] = [];
    for (let i = 0; i < users.length; i += 10) overrides.push(...(await Promise.all(users.slice(i, i + 10).map((u) => this.o.ledger.getBudgetOverride(u.userId)))));
    return adminPage(urls, {
      session,
      rows: users.map((user, i) => ({ user, spend: spend.get(user.userId)!, override: overrides[i]!, caps: effectiveCaps(this.o.budgetDefaults, overrides[i]!) })),
      budgetDefaults: this.o.budgetDefaults,
      policy: describePolicy(createPolicy(this.o.policy)).summary,
      ...(notice ? { notice } : {}),
    });
  }

  private async setCaps(session: Session, userId: string, form: URLSearchParams, urls: ServerUrls): Promise<Response> {
    const change: Partial<Record<BudgetWindow, number | null | 'default'>> = {};
    for (const w of WINDOWS) {
      const raw = (form.get(w) ?? '').trim();
      if (raw === '') change[w] = 'default';
      else if (raw === 'none') change[w] = null;
      else if (/^\d{1,7}(\.\d{1,9})?$/.test(raw)) change[w] = Number(raw);
      else return errorPage(urls.base, 'Invalid cap', `The ${w} cap must be an amount in USD (like 2.50), "none", or empty for the default. Nothing was changed.`, 400);
    }
    try {
      await this.o.ledger.setBudgetOverride(userId, change);
    } catch (err) {
      if (err instanceof StoreError && err.code === 'invalid_input') return errorPage(urls.base, 'Invalid cap', `${err.message}. Nothing was changed.`, 400);
      throw err;
    }
    await this.audit(session, 'budget.set', userId, WINDOWS.map((w) => `${w}=${change[w] === null ? 'none' : String(change[w])}`).join(' '));
    return this.done(urls, 'budget-set');
  }

  private async audit(session: Session, action: string, targetUserId: string, detail?: string): Promise<void> {
    await this.o.ledger.recordAdminAction({ time: this.now(), actor: session.userId, action, targetUserId, ...(detail ? { detail } : {}) });
    this.o.logger.info('admin action', { user_id: session.userId, action, target_user_id: targetUserId });
  }

  private done(urls: ServerUrls, notice: AdminNotice): Response {
    return redirect(`${urls.base}/admin?done=${notice}`, [], 303);
  }
}

/** The form has no field for `provider.zdr` (the operator's policy is the place for it): a stored one is kept. */
function withKeptZdr(next: Record<string, unknown>, previous: UserDefaults | undefined): Record<string, unknown> {
  const zdr = previous?.provider?.zdr;
  if (zdr === undefined) return next;
  return { ...next, provider: { ...((next.provider as Record<string, unknown> | undefined) ?? {}), zdr } };
}
