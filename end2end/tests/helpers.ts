// Shared by the browser tests: waiting for hydration, and reading links from mailed messages.
import { expect, Page } from '@playwright/test';
import fs from 'node:fs';
import path from 'node:path';

const mailDir = path.join(__dirname, '..', '..', 'target', 'e2e-data', 'mail');

export async function hydrated(page: Page, url: string) {
  await page.goto(url);
  await expect(page.locator('body[data-hydrated="true"]')).toBeAttached();
}

/** The newest link to `pathPrefix` in a mail written to `to` (the file transport's .eml files). */
export async function linkFromMail(to: string, pathPrefix: string): Promise<string> {
  let found: string | undefined;
  await expect.poll(() => {
    const files = fs.existsSync(mailDir) ? fs.readdirSync(mailDir).filter((f) => f.endsWith('.eml')) : [];
    for (const file of files) {
      // Undo quoted-printable soft breaks and escapes, in case the transport used them.
      const text = fs.readFileSync(path.join(mailDir, file), 'utf8').replace(/=\r?\n/g, '').replace(/=3D/g, '=');
      if (!text.includes(`To: ${to}`)) continue;
      const match = text.match(new RegExp(`https?://[^\\s]+${pathPrefix.replace('?', '\\?')}[^\\s]+`));
      if (match) found = match[0];
    }
    return found;
  }, { timeout: 10_000 }).toBeTruthy();
  return found!;
}

