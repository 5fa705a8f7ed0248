import { startHarness, runBuild } from './test/workflow/harness.js';
import { buildRequestFor, loadFactoryConfig } from './functions/lib/config.js';
import { randomUUID } from 'node:crypto';
const h = await startHarness({ log: (l) => console.log('LOG', l) });
const config = loadFactoryConfig('factory.config.yml');
for (const family of Object.keys(config.families)) {
  const req = buildRequestFor(config, family, { buildId: randomUUID(), requestedAt: new Date().toISOString(), trigger: { type: 'cli' } });
  const d = await runBuild(h, req);
  console.log(family, d.status, d.error ?? '', (d.cause ?? '').slice(0, 300));
}
console.log(JSON.stringify(h.cloud.authorizer.usage(), null, 1).slice(0, 3000));
await h.close();
