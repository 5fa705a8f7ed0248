import { checkGates, GateCheckInputSchema } from './lib/approvals/hold.js';
import { factoryConfig } from './lib/factory-config.js';
import { taskHandler } from './lib/task-handler.js';

/**
 * Which approval gates of the family hold a promotion or a retention run's plans (none: the
 * state machine goes on without waiting). Reads only the factory config.
 */
export const handler = taskHandler('decide-gates', GateCheckInputSchema, async (input, logger) => {
  const family = input.kind === 'promote' ? input.operation.family : input.family;
  const result = checkGates(factoryConfig().families[family], input);
  logger.info(result.held ? 'held by a gate' : 'no gate holds', { kind: input.kind, ...result });
  return Promise.resolve(result);
});
