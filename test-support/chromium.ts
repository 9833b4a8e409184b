/**
 * Debian's Chromium, driven by playwright-core — never a downloaded browser build. The flags
 * keep it off the network (this machine's is closed) and quiet: no sync, updates or
 * background requests.
 */
export const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
