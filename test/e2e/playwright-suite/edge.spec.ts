import { expect, test } from '@playwright/test';

test.describe('edge cases', () => {
  test('fails on purpose', async ({ page }) => {
    test.info().annotations.push({ type: 'issue', description: 'RL-42' });
    await page.goto('/');
    console.error('about to check the wrong heading');
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Goodbye', { timeout: 1000 });
  });

  // Deliberately flaky: fails on its first attempt, passes on the retry.
  test('passes on the second try', async ({ page }, testInfo) => {
    await page.goto('/');
    expect(testInfo.retry, 'the first attempt always fails').toBeGreaterThan(0);
  });
});
