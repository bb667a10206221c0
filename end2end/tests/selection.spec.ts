import { test, expect, Locator, Page } from '@playwright/test';
import { openUploaded as openInEditor } from './helpers';

async function openUploaded(page: Page, name: string) {
  await openInEditor(page, name);
  await expect(page.getByRole('heading', { name: 'AI tools' })).toBeVisible();
  const mask = page.getByLabel('Eraser mask: paint here');
  await mask.scrollIntoViewIfNeeded();
  return mask;
}

/** The mask canvas's alpha at a point given as fractions of its size (0: not selected). */
async function alphaAt(mask: Locator, fx: number, fy: number) {
  return mask.evaluate((canvas: HTMLCanvasElement, [x, y]) => {
    const at = [Math.floor(canvas.width * x), Math.floor(canvas.height * y)];
    return canvas.getContext('2d')!.getImageData(at[0], at[1], 1, 1).data[3];
  }, [fx, fy]);
}

test('select subject: the subject is masked over the photo, then erased', async ({ page }) => {
  const mask = await openUploaded(page, 'astronaut.png');
  await page.getByRole('button', { name: 'Select subject' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Subject (IS-Net) added to the mask' })).toBeVisible({ timeout: 60_000 });
  // The astronaut's face is masked, the flag in the corner is not.
  expect(await alphaAt(mask, 0.43, 0.25)).toBe(255);
  expect(await alphaAt(mask, 0.02, 0.02)).toBe(0);

  await page.getByRole('button', { name: 'Erase', exact: true }).click();
  const card = page.locator('.ai-job[data-tool="erase"]').first();
  await expect(card).toHaveAttribute('data-state', 'done', { timeout: 180_000 });
  await expect(card.locator('.job-details')).toContainText('PatchMatch');
  // The face is filled from the rest of the photo; the corner is untouched.
  const changed = await card.evaluate(async (node) => {
    const pixel = async (img: HTMLImageElement, x: number, y: number) => {
      if (!img.complete) await img.decode();
      const c = document.createElement('canvas');
      c.width = img.naturalWidth; c.height = img.naturalHeight;
      const g = c.getContext('2d')!;
      g.drawImage(img, 0, 0);
      return Array.from(g.getImageData(x, y, 1, 1).data);
    };
    const before = node.querySelector('img[alt="Before"]') as HTMLImageElement;
    const after = node.querySelector('img[alt="After"]') as HTMLImageElement;
    const differs = async (x: number, y: number) =>
      JSON.stringify(await pixel(before, x, y)) !== JSON.stringify(await pixel(after, x, y));
    return { face: await differs(220, 128), corner: await differs(8, 8) };
  });
  expect(changed).toEqual({ face: true, corner: false });
});

test('the magic wand from the keyboard adds and takes out; a found object is selected', async ({ page }) => {
  const mask = await openUploaded(page, 'astronaut.png');
  await page.getByLabel('Selects similar colour (magic wand)').check();
  // The point typed in, then a click there from the keyboard.
  await page.getByLabel('Point x (%)').fill('43');
  await page.getByLabel('Point y (%)').fill('25');
  await page.getByLabel('Point y (%)').press('Tab');
  await mask.focus();
  await mask.press('Enter');
  await expect(page.getByRole('status').filter({ hasText: 'Similar colour added to the mask' })).toBeVisible();
  expect(await alphaAt(mask, 0.43, 0.25)).toBe(255);
  expect(await alphaAt(mask, 0.02, 0.02)).toBe(0);

  // Taken out again, at the same point.
  await page.getByLabel('Take out of the mask').check();
  await mask.focus();
  await mask.press('Enter');
  await expect(page.getByRole('status').filter({ hasText: 'Similar colour taken out of the mask' })).toBeVisible();
  expect(await alphaAt(mask, 0.43, 0.25)).toBe(0);

  // Arrow keys move the point (Shift: a tenth of the photo a press) up and left into the flag.
  await page.getByLabel('Add to the mask').check();
  await mask.focus();
  for (let i = 0; i < 4; i++) await mask.press('Shift+ArrowUp');
  for (let i = 0; i < 4; i++) await mask.press('Shift+ArrowLeft');
  await expect(page.getByLabel('Point x (%)')).toHaveValue('3');
  await expect(page.getByLabel('Point y (%)')).toHaveValue('0');
  expect(await alphaAt(mask, 16 / 512, 0)).toBe(0);
  await mask.press('Enter');
  await expect(page.getByRole('status').filter({ hasText: 'Similar colour added to the mask' })).toBeVisible();
  expect(await alphaAt(mask, 16 / 512, 0)).toBe(255);

  // Objects the server finds, each a button.
  await page.getByRole('button', { name: 'Clear mask' }).click();
  await page.getByRole('button', { name: 'Find objects' }).click();
  const person = page.getByRole('button', { name: /^Select the person \(\d+ %\)$/ });
  await expect(person).toBeVisible({ timeout: 60_000 });
  await person.focus();
  await person.press('Enter');
  await expect(page.getByRole('status').filter({ hasText: 'Person (CenterNet box refined by IS-Net) added to the mask' })).toBeVisible({ timeout: 60_000 });
  expect(await alphaAt(mask, 0.43, 0.25)).toBe(255);
});
