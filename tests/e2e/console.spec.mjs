// The web console walked in Debian's chromium: sign in through the real
// OpenID provider's pages, add a passkey (Chrome DevTools' virtual
// authenticator), open a pending deployment by keyboard only, approve, see
// the step-up, verify with the passkey (refused while the authenticator
// cannot verify the user, or is gone), and see the result announced; add
// an authenticator app beside it; the requester's own request offers
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

// Chrome DevTools' virtual authenticator (a platform passkey with user
// verification), not Playwright's injected fake: real Chromium checks.
async function virtualAuthenticator(cdp) {
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2', transport: 'internal', hasResidentKey: true,
      hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true,
    },
  });
  return authenticatorId;
}

async function requestState(page, id) {
  const html = await (await page.request.get(`${base}/ui/requests/${id}`)).text();
  return html.match(/This request is <strong>(\w+)<\/strong>/)?.[1];
}

test('an approver adds a passkey and approves a deployment by keyboard after stepping up with it', async ({ browser }) => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable', { enableUI: false });
  let authenticator = await virtualAuthenticator(cdp);

  await signIn(page, 'ana@example.com');
  // A second factor first: a passkey, through the browser's own ceremony.
  await expect(page).toHaveURL(`${base}/ui/mfa`);
  await accessible(page, 'second factor');
  await shot(page, 'second-factor');
  await page.getByLabel('Name for a new passkey').fill('Laptop');
  await page.getByRole('button', { name: 'Add a passkey' }).click();
  await expect(page.getByRole('status')).toHaveText('Your passkey is added.');
  await expect(page.getByRole('rowheader', { name: 'Laptop' })).toBeVisible();
  await accessible(page, 'passkey added');
  await shot(page, 'passkeys');

  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page.getByRole('status')).toHaveText('You are signed out.');
  await accessible(page, 'signed out');
  await signIn(page, 'ana@example.com');
  await expect(page).toHaveURL(`${base}/ui`);
  await accessible(page, 'inbox');
  await shot(page, 'inbox');

  // Keyboard only: to the request, then to Approve.
  const request = process.env.GATEHOUSE_REQUEST;
  await tabTo(page, (text) => text.startsWith('A ') && text.endsWith(`/ui/requests/${request}`));
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(`${base}/ui/requests/${request}`);
  await expect(page.getByText('No verified signature on record')).toBeVisible();
  await accessible(page, 'request');
  await shot(page, 'request');
  await tabTo(page, (text) => text === 'BUTTON Approve');
  await page.keyboard.press('Enter');

  // The step-up panel, in place of an error, offering the passkey.
  await expect(page.getByRole('heading', { name: 'Confirm it is you to approve' })).toBeVisible();
  await expect(page.getByRole('status')).toContainText('needs your second factor');
  const verify = page.getByRole('button', { name: 'Verify with passkey' });
  await expect(verify).toBeVisible();
  await accessible(page, 'step-up');
  await shot(page, 'step-up');

  // The authenticator cannot verify the user: refused, nothing approved.
  await cdp.send('WebAuthn.setUserVerified', { authenticatorId: authenticator, isUserVerified: false });
  await tabTo(page, (text) => text === 'BUTTON Verify with passkey');
  await page.keyboard.press('Enter');
  await expect(page.getByRole('status')).toContainText('Your passkey was not verified');
  expect(await requestState(page, request)).toBe('pending');
  await cdp.send('WebAuthn.setUserVerified', { authenticatorId: authenticator, isUserVerified: true });

  // The authenticator is gone: nothing answers, nothing is approved.
  const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId: authenticator });
  expect(credentials.length).toBe(1);
  await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: authenticator });
  await verify.click();
  await page.waitForTimeout(1500);
  await expect(page.getByRole('status')).not.toContainText('You approved');
  expect(await requestState(page, request)).toBe('pending');

  // Back, with the same passkey: Approve, verify, and the result is announced.
  authenticator = await virtualAuthenticator(cdp);
  await cdp.send('WebAuthn.addCredential', { authenticatorId: authenticator, credential: credentials[0] });
  await page.goto(`${base}/ui/requests/${request}`);
  await page.getByRole('button', { name: 'Approve' }).click();
  await expect(page.getByRole('heading', { name: 'Confirm it is you to approve' })).toBeVisible();
  const started = Date.now();
  await page.getByRole('button', { name: 'Verify with passkey' }).click();
  const status = page.getByRole('status');
  await expect(status).toHaveText('You approved this request. It is approved.');
  results.approve_to_announced_ms = Date.now() - started;
  expect(await page.evaluate(() => document.activeElement?.id)).toBe('status');
  await accessible(page, 'approved');
  await shot(page, 'approved');

  // What the request page weighs, uncompressed: its HTML and what it loads.
  let bytes = (await (await page.request.get(page.url())).body()).length;
  for (const asset of ['gatehouse.css', 'gatehouse.js', 'htmx.min.js']) {
    bytes += (await (await page.request.get(`${base}/ui/assets/${asset}`)).body()).length;
  }
  results.request_page_bytes = bytes;

  // Fresh from the passkey, an authenticator app may be added beside it.
  await page.goto(`${base}/ui/mfa`);
  await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
  await accessible(page, 'enrolment');
  await shot(page, 'enrol');
  const secret = (await page.locator('figcaption code').textContent()).trim();
  await page.getByLabel('The code your app shows now').fill(totp(secret));
  await page.getByRole('button', { name: 'Confirm' }).click();
  await expect(page.getByRole('status')).toHaveText('Your authenticator app is set up.');
  await accessible(page, 'recovery codes');

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

  // The reviews and administration pages an auditor reads, each through axe.
  const pages = [
    ['/ui/reviews', 'reviews'], ['/ui/admin', 'admin'], ['/ui/admin/identities', 'admin-identities'],
    ['/ui/admin/grants', 'admin-grants'], ['/ui/admin/tokens', 'admin-tokens'],
    ['/ui/admin/trust-bindings', 'admin-trust-bindings'], ['/ui/admin/signing-keys', 'admin-signing-keys'],
    ['/ui/admin/vendors', 'admin-vendors'], ['/ui/admin/matrix', 'admin-matrix'],
  ];
  for (const [path, name] of pages) {
    const response = await page.goto(`${base}${path}`);
    expect(response.status(), path).toBe(200);
    await accessible(page, name);
    await shot(page, name);
  }
  await page.goto(`${base}/ui/admin/identities`);
  await page.getByRole('link', { name: 'Ana', exact: true }).click();
  await expect(page.getByRole('heading', { level: 1 })).toContainText('Ana');
  await accessible(page, 'admin-identity');
  await shot(page, 'admin-identity');
  await context.close();
});

test.afterAll(() => {
  writeFileSync(`${artifacts}/results.json`, JSON.stringify(results, null, 2));
});
