import { startLocalCloud, type LocalCloud } from '../../local/server.js';

/**
 * Provisioned concurrency on the local Lambda (`LocalLambda.prewarm`): the environments asked
 * for per function are started and ready when the promise resolves, the ones a function already
 * has count, and a function the template does not have is skipped.
 */
describe('LocalLambda.prewarm', () => {
  let cloud: LocalCloud;

  beforeAll(async () => {
    cloud = await startLocalCloud({ port: 0, stateDir: null, schedules: false, seed: false, code: 'source' });
  });

  afterAll(async () => {
    await cloud.close();
  });

  const provisioned = (fn: string): number => cloud.lambda.logTail(fn).filter((l) => l.includes('\tProvisioned')).length;

  it('starts as many environments per function as asked, counting the ones it has, and skips unknown functions', async () => {
    await cloud.lambda.prewarm(['copyImage', 'no-such-function', 'registerWait'], 2, 3);
    expect(provisioned('copyImage')).toBe(3);
    expect(provisioned('registerWait')).toBe(3);

    await cloud.lambda.prewarm(['copyImage'], 1, 2);
    await cloud.lambda.prewarm(['copyImage'], 1);
    expect(provisioned('copyImage')).toBe(3);

    await cloud.lambda.prewarm(['copyImage'], 1, 4);
    expect(provisioned('copyImage')).toBe(4);
  });
});
