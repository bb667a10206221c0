// WASM side of the editor benchmark: times the same operations as server/benches/editor_ops.rs
// inside Debian's Chromium, through the `bench_recipe` export of the editor's worker bundle.
const { chromium } = require('../end2end/node_modules/playwright-core');

const [url, sizesJson, namesJson] = process.argv.slice(2);
const sizes = JSON.parse(sizesJson);
const names = JSON.parse(namesJson);

(async () => {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = await browser.newPage();
  await page.goto(url);
  await page.waitForSelector('body[data-hydrated="true"]', { state: 'attached' });
  const results = await page.evaluate(async ({ sizes, names }) => {
    const module = await import('/pkg/atelier_editor.js');
    await module.default({ module_or_path: '/pkg/atelier_editor_bg.wasm' });
    const out = {};
    for (const [label, width, height, runs] of sizes) {
      for (const name of names) out[`${label}/${name}`] = module.bench_recipe(name, width, height, runs);
    }
    out['preview/preview_frame'] = module.bench_recipe('preview_frame', 2048, 1365, 5);
    return out;
  }, { sizes, names });
  console.log(JSON.stringify(results));
  await browser.close();
})().catch((error) => { console.error(error); process.exit(1); });
