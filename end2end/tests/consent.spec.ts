import { test, expect, Page, BrowserContext } from '@playwright/test';
import { fixture } from './helpers';

const banner = (page: Page) => page.getByRole('region', { name: 'Cookie choices' });
const names = async (context: BrowserContext) => (await context.cookies()).map((c) => c.name).sort();

test('before a choice only necessary cookies exist, and Tab reaches all three first-layer buttons', async ({ page, context }) => {
  await page.goto('/');
  await expect(banner(page)).toBeVisible();
  expect(await names(context)).toEqual([]);

  const wanted = ['Accept all', 'Reject all', 'Customize'];
  const reached = new Set<string>();
  for (let i = 0; i < 40 && reached.size < wanted.length; i++) {
    await page.keyboard.press('Tab');
    const text = await page.evaluate(() => document.activeElement?.textContent?.trim() ?? '');
    if (wanted.includes(text)) reached.add(text);
  }
  expect([...reached].sort()).toEqual([...wanted].sort());
});

test('Reject all adds no optional cookie and the site stays fully usable', async ({ page, context }) => {
  await page.goto('/');
  await banner(page).getByRole('button', { name: 'Reject all' }).click();
  await expect(banner(page)).toHaveCount(0);
  expect(await names(context)).toEqual(['atelier_consent']);

  await expect(page.locator('body[data-hydrated="true"]')).toBeAttached();
  await page.locator('input[name=photos]').setInputFiles(fixture('coffee.png'));
  await expect(page.locator('.photos .card a', { hasText: 'coffee.png' })).toBeVisible();
  await page.goto('/gallery');
  expect((await names(context)).filter((n) => n !== 'atelier_session' && n !== 'atelier_consent')).toEqual([]);

  // Asking for the dark theme leads to the settings instead of setting a cookie.
  await page.getByRole('button', { name: 'Dark' }).click();
  await expect(page).toHaveURL(/\/cookies\?need=preferences/);
  expect(await names(context)).not.toContain('atelier_theme');
});

test('Accept all sets the optional cookies and records it; withdrawing from the footer deletes them', async ({ page, context }) => {
  await page.goto('/');
  await banner(page).getByRole('button', { name: 'Accept all' }).click();
  await expect(banner(page)).toHaveCount(0);
  await page.goto('/gallery');
  expect(await names(context)).toContain('atelier_visitor');
  await page.getByRole('button', { name: 'Dark' }).click();
  await expect(page.locator('html')).toHaveAttribute('data-theme', 'dark');
  expect(await names(context)).toContain('atelier_theme');

  await page.getByRole('link', { name: 'Cookie settings' }).click();
  await expect(page.getByRole('list', { name: 'Consent history' })).toContainText('Accepted all');
  const analytics = page.getByRole('checkbox', { name: /Analytics/ });
  const preferences = page.getByRole('checkbox', { name: /Preferences/ });
  await expect(analytics).toBeChecked();
  await analytics.uncheck();
  await preferences.uncheck();
  await page.getByRole('button', { name: 'Save my choices' }).click();

  await expect(page.getByRole('list', { name: 'Consent history' }).locator('li').first()).toContainText('Withdrew consent');
  const left = await names(context);
  expect(left).not.toContain('atelier_visitor');
  expect(left).not.toContain('atelier_theme');
  await expect(page.locator('html')).toHaveAttribute('data-theme', 'light');
});
