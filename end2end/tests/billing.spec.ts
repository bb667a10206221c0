// Buying credits through Stripe Checkout, played by the loopback stand-in in services/stripe.mjs:
// the account page's buy button goes to the stand-in's checkout page, whose Pay button sends
// Atelier the signed `checkout.session.completed` webhook and returns to the success page, which
// shows the balance with the pack's credits added. Then the card on file and the portal.
import { expect, Page, test } from '@playwright/test';
import { hydrated, linkFromMail, signUp } from './helpers';

async function balanceOnSuccessPage(page: Page): Promise<number> {
  const balance = page.locator('.purchase-success [data-balance]');
  await expect(balance).toBeVisible();
  return Number(await balance.getAttribute('data-balance'));
}

test('buy a credit pack through the Stripe checkout and see the balance change', async ({ page }) => {
  const email = `buyer-${Date.now()}@example.test`;
  await signUp(page, 'Ada Buyer', email, 'a long enough password');
  await hydrated(page, await linkFromMail(email, '/verify?token='));
  await page.getByRole('button', { name: 'Confirm my address' }).click();
  await expect(page.locator('.account-name')).toHaveText('Ada Buyer');

  await hydrated(page, '/billing/success');
  const before = await balanceOnSuccessPage(page);

  await hydrated(page, '/account');
  await page.getByRole('button', { name: 'Buy Small pack — 500 credits for €5' }).click();
  await expect(page).toHaveURL(/^http:\/\/127\.0\.0\.1:3105\/checkout\/cs_test_e2e_\d+$/);
  await expect(page.getByRole('heading', { name: 'Stripe stand-in checkout' })).toBeVisible();
  await page.getByRole('button', { name: 'Pay' }).click();

  await expect(page).toHaveURL(/\/billing\/success\?session_id=cs_test_e2e_\d+$/);
  await expect(page.getByRole('heading', { name: 'Thank you' })).toBeVisible();
  await expect(page.getByText('Your purchase is being confirmed')).toBeVisible();
  expect(await balanceOnSuccessPage(page)).toBe(before + 500);

  // The card as Atelier keeps it (brand and last four digits), and Stripe's portal for the rest.
  await hydrated(page, '/account');
  await expect(page.getByText('Card on file: Visa ending in 4242')).toBeVisible();
  await page.getByRole('button', { name: 'Manage cards and invoices' }).click();
  await expect(page.getByRole('heading', { name: 'Stripe stand-in customer portal' })).toBeVisible();
  await page.getByRole('link', { name: 'Return' }).click();
  await expect(page).toHaveURL(/\/account$/);
});
