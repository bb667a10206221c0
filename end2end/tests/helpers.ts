// Shared by the browser tests: fixtures, waiting for hydration, uploading into the editor, signing up,
// and reading links from mailed messages.
import { expect, Page } from '@playwright/test';
import fs from 'node:fs';
import path from 'node:path';

const mailDir = path.join(__dirname, '..', '..', 'target', 'e2e-data', 'mail');

export const fixture = (name: string) => path.join(__dirname, '..', 'fixtures', name);

export async function hydrated(page: Page, url: string) {
  await page.goto(url);
  await expect(page.locator('body[data-hydrated="true"]')).toBeAttached();
}

/** Uploads a fixture on the workspace page and opens it in the editor, ready to edit. */
export async function openUploaded(page: Page, name: string) {
  await hydrated(page, '/');
  await page.locator('input[name=photos]').setInputFiles(fixture(name));
  await page.locator('.photos .card a', { hasText: name }).click();
  await expect(page.locator('canvas.editor-canvas')).toHaveAttribute('data-state', 'ready');
}

/** Fills and sends the sign-up form; the account still has to be confirmed from the mailed link. */
export async function signUp(page: Page, name: string, email: string, password: string) {
  await hydrated(page, '/signup');
  await sendSignUp(page, name, email, password);
}

/** Fills and sends the sign-up form on the page open now (hydrated or not). */
export async function sendSignUp(page: Page, name: string, email: string, password: string) {
  await page.getByLabel('Your name').fill(name);
  await page.getByLabel('E-mail').fill(email);
  await page.getByLabel('Password (at least 10 characters)').fill(password);
  await page.getByRole('button', { name: 'Create account' }).click();
}

/** Fills and sends the sign-in form on the page open now (hydrated or not). */
export async function signIn(page: Page, email: string, password: string) {
  await page.getByLabel('E-mail').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
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

