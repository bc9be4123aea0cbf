// Headless Chromium (Debian's /usr/bin/chromium) driven by playwright-core, for browser tests.
// Installed by scripts/test (apt) — never downloaded by Playwright itself.
import { chromium } from "playwright-core";

export const CHROMIUM = process.env.CHROMIUM_BIN || "/usr/bin/chromium";

/** A browser for the tag tests: `track.shop.example` (the gateway's first-party host in them)
 *  resolves to 127.0.0.1, and the local-network checks that would stop a public page from
 *  reaching it are off (here the "public" shop page is Playwright's). */
export async function launchTagBrowser() {
  return chromium.launch({ executablePath: CHROMIUM, headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-dev-shm-usage",
      "--host-resolver-rules=MAP track.shop.example 127.0.0.1",
      "--disable-features=PrivateNetworkAccessRespectPreflightResults,BlockInsecurePrivateNetworkRequests,LocalNetworkAccessChecks"] });
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"],
  });
}
