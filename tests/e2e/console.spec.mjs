// The web console walked in Debian's chromium: sign in through the real
// OpenID provider's pages, enrol an authenticator app, open a pending
// deployment by keyboard only, approve, see the step-up, verify with a
// code, and see the result announced; the requester's own request offers
// no approval; a POST without Origin is refused; without JavaScript a
// request reads and is approved with a code. axe-core checks every page
// visited for WCAG 2.2 AA. Screenshots and timings go to GATEHOUSE_ARTIFACTS.
import { execFileSync } from 'node:child_process';
import { writeFileSync, mkdirSync } from 'node:fs';
import { test, expect } from '@playwright/test';
import AxeBuilder from '@axe-core/playwright';

const base = process.env.GATEHOUSE_URL;
const artifacts = process.env.GATEHOUSE_ARTIFACTS || 'artifacts';
mkdirSync(artifacts, { recursive: true });
const results = {};

test.describe.configure({ mode: 'serial' });

// A code from the authenticator, `ahead` seconds from now (the server
// allows one step of drift, and never takes a step twice).
function totp(secret, ahead = 0) {
  const at = new Date(Date.now() + ahead * 1000).toISOString().replace('T', ' ').replace(/\..*/, ' UTC');
  return execFileSync('oathtool', ['--totp', '-b', '--now', at, secret]).toString().trim();
}

async function accessible(page, name) {
  const scan = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']).analyze();
  const found = scan.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`);
  expect(found, `axe on ${name}`).toEqual([]);
}

async function shot(page, name) {
  await page.screenshot({ path: `${artifacts}/${name}.png`, fullPage: true });
}

// Through the provider's own login and consent screens, back to gatehouse.
async function signIn(page, login) {
  await page.goto(`${base}/ui`);
  for (let i = 0; i < 4 && !page.url().startsWith(base); i += 1) {
    const loginField = page.locator('input[name="login"]');
    if (await loginField.count()) {
      await loginField.fill(login);
      await page.locator('input[name="password"]').fill('any password');
      await page.locator('button[type="submit"]').click();
    } else {
      await page.locator('button[type="submit"]').click();
    }
    await page.waitForLoadState();
  }
  expect(page.url().startsWith(base), `back at gatehouse: ${page.url()}`).toBeTruthy();
}

// Presses Tab until the focused element matches, as a keyboard user does.
async function tabTo(page, matches, limit = 60) {
  for (let i = 0; i < limit; i += 1) {
    await page.keyboard.press('Tab');
    const text = await page.evaluate(() => {
      const focused = document.activeElement;
      return `${focused?.tagName} ${focused?.textContent?.trim()} ${focused?.getAttribute('href') ?? ''}`.trim();
    });
    if (matches(text)) return;
  }
  throw new Error('never reached by Tab');
}

test('an approver signs in, enrols, and approves a deployment by keyboard after stepping up', async ({ browser }) => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await signIn(page, 'ana@example.com');
  // A second factor first.
  await expect(page).toHaveURL(`${base}/ui/mfa`);
  await accessible(page, 'second factor');
  await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
  await accessible(page, 'enrolment');
  await shot(page, 'enrol');
  const secret = (await page.locator('figcaption code').textContent()).trim();
  await page.getByLabel('The code your app shows now').fill(totp(secret));
  await page.getByRole('button', { name: 'Confirm' }).click();
  await expect(page.getByRole('status')).toHaveText('Your authenticator app is set up.');
  await accessible(page, 'recovery codes');
  // A new session has no fresh factor: sign out, and in again.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page.getByRole('status')).toHaveText('You are signed out.');
  await accessible(page, 'signed out');
  await signIn(page, 'ana@example.com');
  await expect(page).toHaveURL(`${base}/ui`);
  await accessible(page, 'inbox');
  await shot(page, 'inbox');

  // Keyboard only: to the request, then to Approve.
  await tabTo(page, (text) => text.startsWith('A ') && text.endsWith(`/ui/requests/${process.env.GATEHOUSE_REQUEST}`));
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(`${base}/ui/requests/${process.env.GATEHOUSE_REQUEST}`);
  await expect(page.getByText('No verified signature on record')).toBeVisible();
  await accessible(page, 'request');
  await shot(page, 'request');
  await tabTo(page, (text) => text === 'BUTTON Approve');
  await page.keyboard.press('Enter');

  // The step-up panel, in place of an error.
  await expect(page.getByRole('heading', { name: 'Confirm it is you to approve' })).toBeVisible();
  await expect(page.getByRole('status')).toContainText('needs your second factor');
  await accessible(page, 'step-up');
  await shot(page, 'step-up');
  await page.getByLabel('Code from your authenticator app').fill(totp(secret, 30));
  const started = Date.now();
  await page.keyboard.press('Enter');
  const status = page.getByRole('status');
  await expect(status).toHaveText('You approved this request. It is approved.');
  results.approve_to_announced_ms = Date.now() - started;
  expect(await page.evaluate(() => document.activeElement?.id)).toBe('status');
  await accessible(page, 'approved');
  await shot(page, 'approved');

  // What the request page weighs, uncompressed: its HTML and what it loads.
  let bytes = (await page.request.get(page.url())).body().then((b) => b.length);
  bytes = await bytes;
  for (const asset of ['gatehouse.css', 'gatehouse.js', 'htmx.min.js']) {
    bytes += (await (await page.request.get(`${base}/ui/assets/${asset}`)).body()).length;
  }
  results.request_page_bytes = bytes;

  // A form posted from elsewhere (no Origin) is refused.
  const forged = await page.request.post(`${base}/ui/requests/${process.env.GATEHOUSE_SECOND_REQUEST}/vote`, {
    form: { decision: 'approve', digest: 'anything' },
  });
  expect(forged.status()).toBe(403);
  await context.close();
});

test('without JavaScript a request reads, the requester cannot approve their own, and a code approves', async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await signIn(page, 'cy@example.com');
  await expect(page).toHaveURL(`${base}/ui`);
  await shot(page, 'no-js-inbox');

  // Cy's own request: readable, cancellable, never approvable by her.
  await page.goto(`${base}/ui/requests/${process.env.GATEHOUSE_OWN_REQUEST}`);
  await expect(page.getByRole('button', { name: 'Cancel this request' })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Approve' })).toHaveCount(0);

  await page.goto(`${base}/ui/requests/${process.env.GATEHOUSE_SECOND_REQUEST}`);
  await expect(page.getByText('release 2.0')).toBeVisible();
  await page.getByRole('button', { name: 'Approve' }).click();
  await expect(page.getByRole('heading', { name: 'Confirm it is you to approve' })).toBeVisible();
  await page.getByLabel('Code from your authenticator app').fill(totp(process.env.GATEHOUSE_CY_SECRET, 30));
  await page.getByRole('button', { name: 'Verify and approve' }).click();
  await expect(page.getByRole('status')).toHaveText('You approved this request. It is approved.');
  await shot(page, 'no-js-approved');
  await context.close();
});

test('an auditor reads the log, an entry with its proof, and the signed checkpoint', async ({ browser }) => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await signIn(page, 'cy@example.com');
  await page.getByRole('link', { name: 'Audit', exact: true }).click();
  await expect(page).toHaveURL(`${base}/ui/audit`);
  await expect(page.getByRole('table')).toContainText('request.vote');
  await accessible(page, 'audit-log');
  await shot(page, 'audit-log');

  // Filtered by action, from the form.
  await page.getByLabel('Action').selectOption('request.vote');
  await page.getByRole('button', { name: 'Show entries' }).click();
  await expect(page).toHaveURL(/action=request\.vote/);
  await expect(page.locator('tbody tr')).not.toHaveCount(0);
  await page.locator('tbody tr th a').first().click();
  await expect(page.getByRole('heading', { level: 1 })).toContainText('Audit entry');
  await expect(page.getByText('leads from this leaf to the root')).toBeVisible();
  await accessible(page, 'audit-entry');
  await shot(page, 'audit-entry');

  await page.getByRole('link', { name: 'the checkpoint and its key' }).click();
  await expect(page.getByText('Its signature verifies with the audit key below.')).toBeVisible();
  await expect(page.getByText('gatehouse audit verify').first()).toBeVisible();
  await accessible(page, 'audit-checkpoint');
  const download = await page.request.get(`${base}/ui/audit/export`);
  expect(download.status()).toBe(200);
  expect(download.headers()['content-disposition']).toMatch(/^attachment; filename="gatehouse-audit-\d+\.jsonl"$/);
  await context.close();
});

test.afterAll(() => {
  writeFileSync(`${artifacts}/results.json`, JSON.stringify(results, null, 2));
});
