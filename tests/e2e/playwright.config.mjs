// The web console's browser tests. Run by the Rust test
// crates/gatehouse-cli/tests/it/web_console.rs, which starts the OpenID
// provider and gatehouse and passes their addresses and seeded data in
// GATEHOUSE_* variables. Debian's chromium, never a downloaded browser.
import { defineConfig } from '@playwright/test';

export default defineConfig({
  testDir: '.',
  testMatch: '*.spec.mjs',
  workers: 1,
  retries: 0,
  timeout: 60_000,
  reporter: [['line']],
  outputDir: process.env.GATEHOUSE_ARTIFACTS ? `${process.env.GATEHOUSE_ARTIFACTS}/results` : 'test-results',
  use: {
    browserName: 'chromium',
    headless: true,
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: process.env.GATEHOUSE_CHROMIUM || '/usr/lib/chromium/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
        '--disable-sync', '--no-first-run', '--disable-quic'],
    },
  },
});
