import { test, expect } from '@playwright/test';
import { openUploaded } from './helpers';

/** Mean absolute difference between two loaded <img>s over a box of the photo (fractions). */
async function difference(page: import('@playwright/test').Page, box: [number, number, number, number]) {
  return page.evaluate(async (box) => {
    const card = document.querySelector('.ai-job[data-tool="blur-faces"]')!;
    const pixels = async (alt: string) => {
      const img = card.querySelector(`img[alt="${alt}"]`) as HTMLImageElement;
      if (!img.complete) await img.decode();
      const c = document.createElement('canvas');
      c.width = img.naturalWidth; c.height = img.naturalHeight;
      const g = c.getContext('2d')!;
      g.drawImage(img, 0, 0);
      const [x, y, w, h] = [box[0] * c.width, box[1] * c.height, box[2] * c.width, box[3] * c.height].map(Math.round);
      return g.getImageData(x, y, w, h).data;
    };
    const [a, b] = [await pixels('Before'), await pixels('After')];
    let sum = 0;
    for (let i = 0; i < a.length; i += 4) sum += Math.abs(a[i] - b[i]) + Math.abs(a[i + 1] - b[i + 1]) + Math.abs(a[i + 2] - b[i + 2]);
    return sum / (a.length / 4) / 3;
  }, box);
}

test('blur faces: find the faces, pick one, blur it, and save the result to the gallery', async ({ page }) => {
  await openUploaded(page, 'astronaut.png');
  const tool = page.locator('fieldset.ai-tool', { has: page.getByText('Hide faces by') });
  await tool.getByLabel('Pixelate').check();
  await tool.getByRole('button', { name: 'Find faces to pick…' }).click();
  const picks = tool.locator('fieldset.face-picks');
  await expect(picks.locator('legend')).toHaveText('1 face found: tick it to hide it', { timeout: 30_000 });
  const blur = picks.getByRole('button', { name: /^Blur the .*ticked face/ });
  await expect(blur).toBeDisabled();
  await picks.getByLabel('Face 1').check();
  await expect(blur).toHaveText('Blur the ticked face');
  await blur.click();

  const card = page.locator('.ai-job[data-tool="blur-faces"]').first();
  await expect(card).toHaveAttribute('data-state', 'done', { timeout: 120_000 });
  await expect(card).toContainText('1 picked');
  // The face changed, a corner of the sky did not.
  expect(await difference(page, [0.39, 0.2, 0.1, 0.1])).toBeGreaterThan(5);
  expect(await difference(page, [0, 0, 0.1, 0.1])).toBeLessThan(1);

  await card.getByRole('button', { name: 'Save to gallery' }).click();
  await expect(card.getByRole('link', { name: 'Saved — open it' })).toBeVisible();
  await page.goto('/gallery');
  await expect(page.locator('.gallery-item').first()).toContainText('astronaut.png');
});
