import { ConfigurationError } from '../errors.js';

/**
 * The local cloud's bundling key pairs, for signing.ts's local branch until the local cloud
 * serves SSM (then that branch, and this module, go). The pairs are the local cloud's concern
 * (local/ec2/certificate.ts), and product code imports nothing from local/: the local cloud
 * installs its generator here when it starts, as it installs its clock (clock.ts).
 */
export type LocalKeyPairs = (dir: string) => Promise<{ certPem: string; keyPem: string }>;

const KEY = Symbol.for('ami-factory.local-key-pairs');
type WithKeyPairs = { [KEY]?: LocalKeyPairs };

/** Installs the local cloud's pair generator (the pair under `<dir>/ec2-cert`, made on first use). */
export function installLocalKeyPairs(pairs: LocalKeyPairs): void {
  (globalThis as WithKeyPairs)[KEY] = pairs;
}

/** The local cloud's key pair kept under `dir`; ConfigurationError when no local cloud runs in this process. */
export function localKeyPair(dir: string): Promise<{ certPem: string; keyPem: string }> {
  const pairs = (globalThis as WithKeyPairs)[KEY];
  if (pairs === undefined) throw new ConfigurationError(`No local cloud in this process provides the bundling keys under ${dir}`);
  return pairs(dir);
}
