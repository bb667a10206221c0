import { test, expect, Page } from '@playwright/test';
import { fixture, openUploaded } from './helpers';

const canvas = (page: Page) => page.locator('canvas.editor-canvas');
const history = (page: Page) => page.getByRole('list', { name: 'Edit history' });

/** Mean absolute difference per channel between the canvas and an image URL drawn at the same size. */
async function differenceFromCanvas(page: Page, url: string) {
  return canvas(page).evaluate(async (c: HTMLCanvasElement, src: string) => {
    const image = new Image();
    image.src = src;
    await image.decode();
    if (image.naturalWidth !== c.width || image.naturalHeight !== c.height) return Infinity;
    const other = document.createElement('canvas');
    other.width = c.width;
    other.height = c.height;
    other.getContext('2d')!.drawImage(image, 0, 0);
    const a = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    const b = other.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    let sum = 0;
    for (let i = 0; i < a.length; i += 4) {
      sum += Math.abs(a[i] - b[i]) + Math.abs(a[i + 1] - b[i + 1]) + Math.abs(a[i + 2] - b[i + 2]);
    }
    return sum / (a.length / 4 * 3);
  }, url);
}

test('crop, filter, undo, redo, save, then re-open the version and change one step', async ({ page }) => {
  await openUploaded(page, 'coffee.png');
  await expect(page.locator('.filters button.filter')).toHaveCount(34);
  await expect(page.locator('.filters img').first()).toHaveAttribute('src', /^data:image\/jpeg/);

  // A 1:1 preset crop of the 600×400 photo.
  await page.getByLabel('Crop aspect').selectOption({ label: '1:1 · Amazon, Shopify' });
  await page.getByRole('button', { name: 'Crop', exact: true }).click();
  await expect(page.locator('.editor-header .card-meta')).toHaveText('400×400');

  await page.getByRole('button', { name: 'Sepia' }).click();
  await page.getByRole('button', { name: 'Vintage' }).click();
  await expect(canvas(page)).toHaveAttribute('data-steps', '3');
  await page.keyboard.press('Control+z');
  await expect(canvas(page)).toHaveAttribute('data-steps', '2');
  await page.keyboard.press('Control+Shift+Z');
  await expect(canvas(page)).toHaveAttribute('data-steps', '3');
  await page.getByRole('button', { name: 'Undo' }).click();
  await page.getByRole('button', { name: 'Redo' }).click();
  await expect(history(page)).toContainText('Filter: Vintage');

  // A slider previews while dragged and becomes one step when released.
  const contrast = page.getByRole('slider', { name: 'Contrast' });
  await contrast.fill('40');
  await expect(canvas(page)).toHaveAttribute('data-steps', '4');
  await expect(history(page)).toContainText('Contrast +40');

  await page.getByRole('button', { name: 'Save to gallery' }).click();
  await expect(page).toHaveURL(/\/gallery$/);
  const item = page.locator('.gallery-item', { hasText: 'coffee.png' });
  await expect(item).toContainText('400×400 · 4 edits');

  // Re-open: the recipe comes back, on the original, and one step is changed.
  await item.getByRole('link', { name: 'Edit again' }).click();
  await expect(canvas(page)).toHaveAttribute('data-state', 'ready');
  await expect(canvas(page)).toHaveAttribute('data-steps', '4');
  await expect(history(page)).toContainText('Filter: Sepia');
  await page.getByRole('button', { name: /Remove step 2: Filter: Sepia/ }).click();
  await expect(canvas(page)).toHaveAttribute('data-steps', '3');
  await expect(history(page)).not.toContainText('Sepia');

  // What the browser shows is what the server stores: the replay agrees within JPEG noise.
  await page.getByRole('button', { name: 'Save to gallery' }).click();
  await expect(page).toHaveURL(/\/gallery$/);
  await expect(page.locator('.gallery-item')).toHaveCount(2);
  const newest = page.locator('.gallery-item', { hasText: '3 edits' });
  const imageUrl = await newest.locator('a').first().getAttribute('href');
  await newest.getByRole('link', { name: 'Edit again' }).click();
  await expect(canvas(page)).toHaveAttribute('data-state', 'ready');
  await expect(canvas(page)).toHaveAttribute('data-steps', '3');
  await expect(canvas(page)).toHaveAttribute('data-drawn-steps', '3');
  expect(await differenceFromCanvas(page, imageUrl!)).toBeLessThan(3);
});

test('the editor\'s WASM loads only with the editor, and runs in a Web Worker', async ({ page }) => {
  const requested: string[] = [];
  page.on('request', (request) => requested.push(new URL(request.url()).pathname));
  await page.goto('/');
  await expect(page.locator('body[data-hydrated="true"]')).toBeAttached();
  await page.goto('/gallery');
  await expect(page.locator('body[data-hydrated="true"]')).toBeAttached();
  expect(requested).toContain('/pkg/atelier.wasm');
  expect(requested.filter((path) => path.includes('atelier_editor'))).toEqual([]);

  await openUploaded(page, 'chelsea.png');
  expect(requested).toContain('/pkg/atelier_editor_bg.wasm');
  expect(page.workers().some((worker) => worker.url().endsWith('/editor-worker.js'))).toBe(true);
  await page.getByRole('button', { name: 'Grayscale' }).click();
  await expect(canvas(page)).toHaveAttribute('data-drawn-steps', '1');
});

test('pages hydrate and the editor\'s worker runs under the Content-Security-Policy, with no violation', async ({ page }) => {
  const violations: string[] = [];
  page.on('console', (message) => {
    if (/Content Security Policy|Content-Security-Policy/i.test(message.text())) violations.push(message.text());
  });
  const response = await page.goto('/');
  const policy = response!.headers()['content-security-policy'] ?? '';
  expect(policy).toMatch(/script-src 'self' 'nonce-[A-Za-z0-9_-]+' 'wasm-unsafe-eval'/);
  const scriptSrc = policy.split(';').find((directive) => directive.trim().startsWith('script-src')) ?? '';
  expect(scriptSrc).not.toContain('unsafe-inline');
  await expect(page.locator('body[data-hydrated="true"]')).toBeAttached();
  // A script the page did not mark with its nonce is refused (what an injected one would meet).
  const ran = await page.evaluate(() => new Promise<boolean>((resolve) => {
    const script = document.createElement('script');
    script.textContent = 'window.__injected = true;';
    document.head.appendChild(script);
    setTimeout(() => resolve((window as unknown as { __injected?: boolean }).__injected === true), 100);
  }));
  expect(ran).toBe(false);
  expect(violations.length).toBe(1);
  violations.length = 0;

  await openUploaded(page, 'chelsea.png');
  await page.getByRole('button', { name: 'Grayscale' }).click();
  await expect(canvas(page)).toHaveAttribute('data-drawn-steps', '1');
  await page.goto('/gallery');
  await expect(page.locator('body[data-hydrated="true"]')).toBeAttached();
  expect(violations).toEqual([]);
});

test('the compare slider shows the original over the edit', async ({ page }) => {
  await openUploaded(page, 'chelsea.png');
  const before = page.locator('img.before');
  await expect(before).toBeHidden();
  await page.getByRole('button', { name: 'Grayscale' }).click();
  await page.getByRole('slider', { name: 'Before/after' }).fill('50');
  await expect(before).toBeVisible();
  await expect(before).toHaveCSS('clip-path', 'inset(0px 50% 0px 0px)');
});

test('a 24-megapixel photo is edited on a screen-sized preview and saved at full resolution', async ({ page }) => {
  await page.goto('/');
  await expect(page.locator('body[data-hydrated="true"]')).toBeAttached();
  // Paint a 6000×4000 photo in the page and drop it on the workspace.
  const drop = await page.evaluateHandle(async () => {
    const canvas = document.createElement('canvas');
    canvas.width = 6000;
    canvas.height = 4000;
    const context = canvas.getContext('2d')!;
    const gradient = context.createLinearGradient(0, 0, 6000, 4000);
    gradient.addColorStop(0, '#2a6f97');
    gradient.addColorStop(1, '#f4a261');
    context.fillStyle = gradient;
    context.fillRect(0, 0, 6000, 4000);
    context.fillStyle = '#e63946';
    context.fillRect(1000, 1000, 1500, 1000);
    const blob: Blob = await new Promise((resolve) => canvas.toBlob((b) => resolve(b!), 'image/jpeg', 0.9));
    const transfer = new DataTransfer();
    transfer.items.add(new File([blob], 'large.jpg', { type: 'image/jpeg' }));
    return transfer;
  });
  await page.dispatchEvent('.dropzone', 'drop', { dataTransfer: drop });
  await expect(page.locator('.upload[data-state="done"]')).toHaveCount(1, { timeout: 30_000 });
  await page.locator('.photos .card a', { hasText: 'large.jpg' }).click();
  await expect(canvas(page)).toHaveAttribute('data-state', 'ready', { timeout: 30_000 });

  const preview = await canvas(page).evaluate((c: HTMLCanvasElement) => [c.width, c.height]);
  expect(preview).toEqual([2048, 1365]);
  await expect(page.locator('.editor-header .card-meta')).toHaveText('6000×4000');
  await page.getByRole('button', { name: 'Rotate 90°' }).click();
  await expect(page.locator('.editor-header .card-meta')).toHaveText('4000×6000');
  await page.getByRole('button', { name: 'Save to gallery' }).click();
  await expect(page).toHaveURL(/\/gallery$/, { timeout: 30_000 });
  await expect(page.locator('.gallery-item', { hasText: 'large.jpg' })).toContainText('4000×6000 · 1 edits');
});

test('a direct visit to the editor renders it on the server and hydrates it', async ({ page }) => {
  await page.goto('/');
  await expect(page.locator('body[data-hydrated="true"]')).toBeAttached();
  await page.locator('input[name=photos]').setInputFiles(fixture('chelsea.png'));
  await page.locator('.photos .card a').click();
  await expect(canvas(page)).toHaveAttribute('data-state', 'ready');

  await page.reload();
  await expect(page.locator('body[data-hydrated="true"]')).toBeAttached();
  await expect(canvas(page)).toHaveAttribute('data-state', 'ready');
  await page.getByRole('button', { name: 'Grayscale' }).click();
  await expect(canvas(page)).toHaveAttribute('data-steps', '1');
});
