import { expect, test } from '@playwright/test';

test('shows the welcome heading', { tag: '@smoke' }, async ({ page }) => {
  await test.step('open the shop', async () => {
    await page.goto('/');
  });
  await test.step('read the heading', async () => {
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Welcome');
  });
});

test('counts items added to the cart', async ({ page }) => {
  await page.goto('/');
  await page.getByRole('button', { name: 'Add to cart' }).click();
  await page.getByRole('button', { name: 'Add to cart' }).click();
  await expect(page.locator('#count')).toHaveText('2');
  console.log('two items in the cart');
});

test('exports the cart as CSV', async () => {
  test.skip(true, 'CSV export is not built yet');
});

// Proof of streaming: while this run is still going, the API already shows the
// result of the first test of this file (the reporter sent it during the run).
test('finds the earlier results on the dashboard while the run goes on', async ({ request }) => {
  test.skip(process.env.E2E_LIVE_CHECK !== '1', 'needs a running API');
  test.setTimeout(60_000); // a loaded CI machine: the projection may lag the reporter
  const headers = { 'x-api-key': process.env.RUNLEDGER_API_KEY! };
  const api = process.env.RUNLEDGER_URL!;
  const buildId = `${process.env.GITHUB_RUN_ID}-${process.env.GITHUB_RUN_ATTEMPT}`;
  await expect.poll(async () => {
    const runs = (await (await request.get(`${api}/api/runs?limit=100`, { headers })).json()).data as Array<{ id: string }>;
    for (const r of runs) {
      const run = await (await request.get(`${api}/api/runs/${r.id}`, { headers })).json();
      if (run.ciBuildId !== buildId) continue;
      const tests = (await (await request.get(`${api}/api/tests?runId=${r.id}&limit=100`, { headers })).json()).data as Array<{ fullTitle: string }>;
      return tests.map((t) => t.fullTitle);
    }
    return [];
  }, { timeout: 45_000 }).toContain('shows the welcome heading');
});
