// Headless Chromium for the e2e test and the bench runner: Debian's
// chromium (or $CHROMIUM), driven by playwright-core, with a fresh
// temporary profile (playwright passes its own --user-data-dir) and
// nothing that reaches the network.
import { chromium } from 'playwright-core';

export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    headless: true,
  });
}
