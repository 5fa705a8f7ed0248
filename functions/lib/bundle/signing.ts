import { GetParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import * as z from 'zod';
import { env as currentEnv, type Env } from '../env.js';
import { ConfigurationError } from '../errors.js';

/** What bundling needs: the user's certificate and private key, and EC2's certificate of the partition. */
export interface BundleKeys {
  userCertificate: string;
  privateKey: string;
  ec2Certificate: string;
}

const StoredKeys = z.object({ certificate: z.string().min(1), privateKey: z.string().min(1) }).strict();

/**
 * The bundling keys, from SSM: a SecureString parameter (AMI_FACTORY_BUNDLE_KEYS_PARAM) holding
 * `{"certificate": PEM, "privateKey": PEM}` and EC2's certificate for the partition
 * (AMI_FACTORY_EC2_CERT_PARAM, a String parameter). The local cloud serves both from its SSM.
 */
export async function bundleKeys(
  ssm: () => SSMClient,
  env: Pick<Env, 'AMI_FACTORY_BUNDLE_KEYS_PARAM' | 'AMI_FACTORY_EC2_CERT_PARAM'> = currentEnv(),
): Promise<BundleKeys> {
  const keysParam = env.AMI_FACTORY_BUNDLE_KEYS_PARAM;
  const ec2Param = env.AMI_FACTORY_EC2_CERT_PARAM;
  if (keysParam === undefined || ec2Param === undefined) {
    throw new ConfigurationError(
      'Set AMI_FACTORY_BUNDLE_KEYS_PARAM and AMI_FACTORY_EC2_CERT_PARAM (the SSM parameters of the bundling keys)',
    );
  }
  const [keys, ec2] = await Promise.all([
    ssm().send(new GetParameterCommand({ Name: keysParam, WithDecryption: true })),
    ssm().send(new GetParameterCommand({ Name: ec2Param })),
  ]);
  let stored: z.infer<typeof StoredKeys>;
  try {
    stored = StoredKeys.parse(JSON.parse(keys.Parameter?.Value ?? ''));
  } catch (e) {
    throw new ConfigurationError(`Parameter ${keysParam} must hold {"certificate": PEM, "privateKey": PEM}`, { cause: e });
  }
  const ec2Certificate = ec2.Parameter?.Value;
  if (ec2Certificate === undefined || ec2Certificate === '') throw new ConfigurationError(`Parameter ${ec2Param} is empty`);
  return { userCertificate: stored.certificate, privateKey: stored.privateKey, ec2Certificate };
}
