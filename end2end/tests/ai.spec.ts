import { test, expect, Page } from '@playwright/test';
import { fixture, openUploaded as openInEditor } from './helpers';

const job = (page: Page, tool: string) => page.locator(`.ai-job[data-tool="${tool}"]`).first();

async function openUploaded(page: Page, name: string) {
  await openInEditor(page, name);
  await expect(page.getByRole('heading', { name: 'AI tools' })).toBeVisible();
}

/** Whether an <img> finished loading a real image. */
async function loaded(page: Page, selector: string) {
  return page.locator(selector).first().evaluate(async (img: HTMLImageElement) => {
    if (!img.complete) await img.decode().catch(() => undefined);
    return img.naturalWidth;
  });
}

test('remove the background: live progress, before/after, then save to the gallery', async ({ page }) => {
  await openUploaded(page, 'astronaut.png');
  await page.getByRole('button', { name: 'Remove background' }).click();
  const card = job(page, 'remove-background');
  await expect(card).toBeVisible();
  // Queued or running at first, with a progress bar the page keeps updating.
  await expect(card.getByRole('progressbar', { name: 'Job progress' })).toBeVisible();
  await expect(card).toHaveAttribute('data-state', 'done', { timeout: 120_000 });
  await expect(card.locator('.job-details')).toContainText('ran on CPU');
  await expect(card.locator('.job-details')).toContainText('IS-Net');
  expect(await loaded(page, '.ai-job[data-tool="remove-background"] img[alt="After"]')).toBe(512);
  expect(await loaded(page, '.ai-job[data-tool="remove-background"] img[alt="Before"]')).toBe(512);
  // The result really is transparent where the sky was.
  const cornerAlpha = await card.locator('img[alt="After"]').evaluate(async (img: HTMLImageElement) => {
    const c = document.createElement('canvas');
    c.width = img.naturalWidth; c.height = img.naturalHeight;
    const g = c.getContext('2d')!;
    g.drawImage(img, 0, 0);
    return g.getImageData(8, 8, 1, 1).data[3];
  });
  expect(cornerAlpha).toBeLessThan(20);

  await card.getByRole('button', { name: 'Save to gallery' }).click();
  const saved = card.getByRole('link', { name: 'Saved — open it' });
  await expect(saved).toBeVisible();
  // The link opens the kept result in the editor (it once pointed at a route that did not exist).
  await saved.click();
  await expect(page).toHaveURL(/\/photos\/[0-9a-f-]{36}$/);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('astronaut.png (remove background)');
  await expect(page.getByRole('heading', { name: 'AI tools' })).toBeVisible();
  await page.goto('/gallery');
  await expect(page.locator('body')).toContainText('astronaut.png (remove background)');
});

test('magic eraser: paint a mask in the editor, the server fills it', async ({ page }) => {
  await openUploaded(page, 'coffee.png');
  const mask = page.getByLabel('Eraser mask: paint here');
  await mask.scrollIntoViewIfNeeded();
  // Erasing with nothing painted is refused in the page.
  await page.getByRole('button', { name: 'Erase', exact: true }).click();
  await expect(page.getByText('Paint over what should be erased first.')).toBeVisible();

  const box = (await mask.boundingBox())!;
  await page.mouse.move(box.x + box.width * 0.45, box.y + box.height * 0.2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.55, box.y + box.height * 0.25, { steps: 8 });
  await page.mouse.up();
  await page.getByRole('button', { name: 'Erase', exact: true }).click();
  const card = job(page, 'erase');
  await expect(card).toHaveAttribute('data-state', 'done', { timeout: 120_000 });
  await expect(card.locator('.job-details')).toContainText('PatchMatch');
  expect(await loaded(page, '.ai-job[data-tool="erase"] img[alt="After"]')).toBe(600);
});

test('generative fill: the eraser brush plus a prompt, painted by the configured image service', async ({ page }) => {
  await openUploaded(page, 'coffee.png');
  const mask = page.getByLabel('Eraser mask: paint here');
  await mask.scrollIntoViewIfNeeded();
  // Offered because the test server names an image service that takes masks.
  await expect(page.locator('select[name=fill_service]')).toContainText('Test GPU');
  const box = (await mask.boundingBox())!;
  await page.mouse.move(box.x + box.width * 0.7, box.y + box.height * 0.3);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.9, box.y + box.height * 0.7, { steps: 10 });
  await page.mouse.up();
  await page.locator('input[name=fill_prompt]').fill('a bowl of cherries');
  await page.getByRole('button', { name: 'Generative fill' }).click();
  const card = job(page, 'erase');
  await expect(card).toContainText('Generative fill (Test GPU)');
  await expect(card).toHaveAttribute('data-state', 'done', { timeout: 60_000 });
  await expect(card.locator('.job-details')).toContainText('generative fill by Test GPU');
  // Painted where the brush went (the stand-in paints red (1234 × 37) mod 256 = 90 for no seed), untouched far from it.
  const [painted, untouched] = await card.locator('img[alt="After"]').evaluate(async (img: HTMLImageElement) => {
    if (!img.complete) await img.decode();
    const c = document.createElement('canvas');
    c.width = img.naturalWidth; c.height = img.naturalHeight;
    const g = c.getContext('2d')!;
    g.drawImage(img, 0, 0);
    return [g.getImageData(Math.round(c.width * 0.8), Math.round(c.height * 0.5), 1, 1).data[0],
            g.getImageData(10, c.height - 10, 1, 1).data[0]];
  });
  expect(Math.abs(painted - 90)).toBeLessThan(8);
  const original = await page.locator('img[alt="Before"]').first().evaluate(async (img: HTMLImageElement) => {
    if (!img.complete) await img.decode();
    const c = document.createElement('canvas');
    c.width = img.naturalWidth; c.height = img.naturalHeight;
    const g = c.getContext('2d')!;
    g.drawImage(img, 0, 0);
    return g.getImageData(10, c.height - 10, 1, 1).data[0];
  });
  expect(untouched).toBe(original);
});

test('style transfer: thumbnails load only when the picker opens, a style is chosen by its thumbnail and applied', async ({ page }) => {
  const thumbnails: string[] = [];
  page.on('request', (request) => { if (request.url().includes('/media/styles/')) thumbnails.push(request.url()); });
  await openUploaded(page, 'astronaut.png');
  const picker = page.locator('.style-picker-wrap');
  await picker.scrollIntoViewIfNeeded();
  expect(thumbnails).toEqual([]);
  await picker.locator('summary').click();
  const third = picker.locator('label.style-choice').nth(3);
  await expect(third.locator('img')).toHaveJSProperty('complete', true);
  expect(await third.locator('img').evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(128);
  await third.locator('input[type=radio]').check();
  await expect(picker.locator('summary')).toContainText('Style 3');
  await page.getByRole('button', { name: 'Apply the style' }).click();
  const card = job(page, 'style-transfer');
  await expect(card).toHaveAttribute('data-state', 'done', { timeout: 120_000 });
  await expect(card).toContainText('style 3');
  expect(await loaded(page, '.ai-job[data-tool="style-transfer"] img[alt="After"]')).toBe(512);
});

test('tags and alt-text are proposed, edited and kept; upscale reports its size', async ({ page }) => {
  await openUploaded(page, 'astronaut.png');
  await page.getByRole('button', { name: 'Suggest tags and alt-text' }).click();
  const card = job(page, 'describe');
  await expect(card).toHaveAttribute('data-state', 'done', { timeout: 120_000 });
  const editor = page.getByRole('region', { name: 'Suggested tags and alt-text' });
  await expect(editor.getByLabel('Tags')).toHaveValue(/person/);
  await expect(editor.getByLabel('Alt-text')).toHaveValue(/^A photo of a person/);

  // An upscale runs meanwhile: its progress polling must not wipe what is being typed.
  await page.getByLabel('Factor').selectOption('2');
  await page.getByRole('button', { name: 'Upscale' }).click();
  const typed = 'Astronaut Eileen Collins in her orange flight suit.';
  await editor.getByLabel('Alt-text').fill(typed);
  const upscale = job(page, 'upscale');
  await expect(upscale).toHaveAttribute('data-state', 'done', { timeout: 120_000 });
  await expect(upscale.locator('.job-details')).toContainText('1024×1024');
  await expect(editor.getByLabel('Alt-text')).toHaveValue(typed);
  await editor.getByRole('button', { name: 'Keep tags and alt-text' }).click();
  await expect(editor.getByText('Kept on this photo.')).toBeVisible();
});
